"""The OpenAPI documents: valid OpenAPI 3.1, one operation per declared route and no other,
served by the service, checked in up to date, and true to what the routes answer."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel

from admin.routes import create_admin_app
from miniapp_api import responses
from miniapp_api.routes import create_miniapp_app
from tests.factories import auth_headers, create_member
from wxmember import apidocs
from wxmember.core.context import Services
from wxmember.core.endpoints import ENDPOINTS
from wxmember.core.errors import DomainError
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.openapi import error_statuses

ROOT = Path(__file__).resolve().parents[2]
APPS = {"miniapp.json": create_miniapp_app, "admin.json": create_admin_app}
METHODS = {"get", "put", "post", "patch", "delete"}


def document(name: str) -> dict[str, Any]:
    return json.loads(apidocs.documents()[name])


@pytest.mark.parametrize("name", APPS)
def test_the_document_is_valid_openapi_3_1(name: str) -> None:
    found = document(name)
    assert found["openapi"].startswith("3.1")
    validate(found)


def test_the_validator_refuses_a_broken_document() -> None:
    broken = copy.deepcopy(document("miniapp.json"))
    operation = broken["paths"]["/card"]["get"]
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {"type": 7}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


@pytest.mark.parametrize("name", APPS)
def test_every_route_of_the_router_and_nothing_else(name: str) -> None:
    app: web.Application = APPS[name]()
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {
        (method, path)
        for path, item in document(name)["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == routed


@pytest.mark.parametrize("name", APPS)
def test_operations_are_named_once_and_refusals_use_the_error_schema(name: str) -> None:
    ids = []
    for item in document(name)["paths"].values():
        for operation in item.values():
            ids.append(operation["operationId"])
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
                    assert response["x-error-codes"]
    assert len(ids) == len(set(ids))


def test_sessions_roles_and_idempotency_keys_are_shown() -> None:
    miniapp = document("miniapp.json")["paths"]
    assert miniapp["/session"]["post"]["security"] == []
    assert miniapp["/openapi.json"]["get"]["security"] == []
    assert "security" not in miniapp["/card"]["get"]  # the document's default: bearer
    assert "401" in miniapp["/card"]["get"]["responses"]
    redeem = miniapp["/mall/redemptions"]["post"]
    assert {"name": "Idempotency-Key", "in": "header", "required": True}.items() <= (
        redeem["parameters"][0].items()
    )
    item = miniapp["/mall/items/{item_id}"]["get"]
    assert item["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    assert "not_found" in item["responses"]["404"]["x-error-codes"]

    admin = document("admin.json")["paths"]
    assert admin["/login"]["post"]["security"] == []
    assert "429" in admin["/login"]["post"]["responses"]
    staff_only = admin["/tiers"]["post"]
    assert staff_only["x-roles"] == ["owner", "operator"]
    assert staff_only["responses"]["403"]["x-error-codes"] == ["role_not_allowed"]
    assert "403" not in admin["/pos/identify"]["post"]["responses"]  # every role may


def _raised_codes() -> dict[str, set[int]]:
    """Code → statuses, from every `SomeError(..., code="...")` in the service's source."""
    statuses: dict[str, int] = {}
    found: dict[str, set[int]] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        kind = pending.pop()
        statuses[kind.__name__] = kind.status
        found_named = found.setdefault(kind.default_code, set())
        found_named.add(kind.status)
        pending.extend(kind.__subclasses__())
    for folder in ("handlers", "miniapp_api", "admin", "wxmember/core"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                    continue
                for keyword in node.keywords:
                    if (
                        keyword.arg == "code"
                        and isinstance(keyword.value, ast.Constant)
                        and node.func.id in statuses
                    ):
                        found.setdefault(keyword.value.value, set()).add(statuses[node.func.id])
    return found


def test_declared_codes_have_the_statuses_they_are_raised_with() -> None:
    raised = _raised_codes()
    wrong = set()
    for make in APPS.values():
        for endpoint in make()[ENDPOINTS]:
            for code in endpoint.errors:
                if code in raised and not set(error_statuses(code)) <= raised[code]:
                    wrong.add((endpoint.method, endpoint.path, code, error_statuses(code)))
    assert wrong == set()
    assert error_statuses("card_exists") == (409,)  # a Conflict with its own code


async def test_the_documents_are_served(client: TestClient) -> None:
    for prefix, name in (("/api/v1", "miniapp.json"), ("/admin/api/v1", "admin.json")):
        response = await client.get(f"{prefix}/openapi.json")
        assert response.status == 200
        assert response.content_type == "application/json"
        assert "public" in response.headers["Cache-Control"]
        assert await response.read() == apidocs.documents()[name]


def test_the_checked_in_documents_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in apidocs.stale(ROOT / "docs" / "openapi")]
    assert stale == [], (
        f"{', '.join(stale)} differ from the code: run `{apidocs.COMMAND}` and commit the files"
    )


def _check(model: type[BaseModel], body: Any) -> None:
    model.model_validate(body)


async def test_described_answers_match_their_models(
    client: TestClient, services: Services, fake_wechat: FakeWeChat
) -> None:
    login = await client.post(
        "/api/v1/session", json={"code": fake_wechat.issue_login_code("o-openapi")}
    )
    assert login.status == 200
    _check(responses.Session, await login.json())
    member = await create_member()
    headers = auth_headers(services, member)
    described = {
        "/api/v1/card": responses.Card,
        "/api/v1/card/code": responses.MemberCode,
        "/api/v1/me": responses.Profile,
        "/api/v1/points": responses.PointsSummary,
        "/api/v1/tiers": responses.TierOverview,
    }
    for path, model in described.items():
        response = await client.get(path, headers=headers)
        assert response.status == 200, path
        _check(model, await response.json())
    response = await client.post(
        "/api/v1/subscriptions", json={"template_ids": ["tpl-1"]}, headers=headers
    )
    _check(responses.Grants, await response.json())
    image = await client.get("/api/v1/card/image", headers=headers)
    assert image.content_type == "image/png"
