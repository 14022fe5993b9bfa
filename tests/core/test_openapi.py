"""The OpenAPI documents: valid OpenAPI 3.1, one operation per declared route and no other,
served by the service, checked in up to date, and true to what the routes answer."""

from __future__ import annotations

import ast
import base64
import copy
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel, ValidationError

from admin.routes import create_admin_app
from handlers.campaigns.run import run_due_campaigns
from handlers.coupons.templates import create_template
from handlers.members.numbers import new_card_number
from handlers.reminders import pacer_for
from handlers.tiers.evaluation import evaluate_tiers
from miniapp_api.routes import create_miniapp_app
from tests.conftest import StaffLogin
from tests.factories import auth_headers, create_member
from tests.mall.kit import ADDRESS, MallKit, new_key
from tests.referrals.kit import invitee, referrer
from tests.reminders.kit import register, rule_fields
from tests.support.http import bearer
from tests.support.localtime import freeze, local
from wxmember import apidocs
from wxmember.core.context import Services
from wxmember.core.endpoints import ENDPOINTS, Endpoint
from wxmember.core.errors import DomainError
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.benefits import BenefitGrant, BenefitKind, GrantState
from wxmember.core.models.mall import ItemKind, LimitPeriod
from wxmember.core.models.reminders import Channel, DeliveryState, ReminderDelivery
from wxmember.core.models.wallet_card import ReviewState, WalletCard, WalletCardEvent
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
                        assert isinstance(keyword.value.value, str)
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


def _declared(app: web.Application, method: str, path: str) -> Endpoint:
    """The declaration of the route a path (with ids filled in) is answered by."""
    for endpoint in app[ENDPOINTS]:
        pattern = re.sub(r"{\w+}", r"[^/]+", endpoint.path)
        if endpoint.method == method and re.fullmatch(pattern, path.partition("?")[0]):
            return endpoint
    raise AssertionError(f"no route declared for {method} {path}")


class Answers:
    """Calls routes through the app and checks each answer against what its route declares:
    the success status and, strictly, the response model (JSON types, no unknown field)."""

    def __init__(self, client: TestClient, prefix: str, make: Any) -> None:
        self.client = client
        self.prefix = prefix
        self.app = make()
        self.seen: set[tuple[str, str]] = set()

    async def call(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> dict[str, Any]:
        endpoint = _declared(self.app, method, path)
        response = await self.client.request(method, self.prefix + path, headers=headers, **kwargs)
        text = await response.text()
        assert response.status == endpoint.status, (method, path, response.status, text)
        assert _is_model(endpoint.response), f"{method} {endpoint.path} declares no model"
        try:
            endpoint.response.model_validate_json(text, strict=True)
        except ValidationError as exc:
            raise AssertionError(f"{method} {path} differs from its model: {exc}") from exc
        self.seen.add((method, endpoint.path))
        body: dict[str, Any] = json.loads(text)
        return body


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _described(make: Any) -> set[tuple[str, str]]:
    return {
        (endpoint.method, endpoint.path)
        for endpoint in make()[ENDPOINTS]
        if _is_model(endpoint.response)
    }


async def test_described_miniapp_answers_match_their_models(
    client: TestClient, services: Services, fake_wechat: FakeWeChat
) -> None:
    answers = Answers(client, "/api/v1", create_miniapp_app)
    login_code = fake_wechat.issue_login_code("o-openapi")
    session = await answers.call("POST", "/session", {}, json={"code": login_code})
    newcomer = bearer(session["token"])
    phone_code = fake_wechat.issue_phone_code("13812345678", "86", openid="o-openapi")
    card = {"name": "张三", "birthday": "1990-05-17", "phone_code": phone_code}
    await answers.call("POST", "/card", newcomer, json=card)
    await answers.call("PATCH", "/me", newcomer, json={"name": "张三丰"})
    await answers.call("POST", "/me", newcomer, json={"gender": "undisclosed"})

    clock = freeze(services, local(2025, 3, 3, 9, 0))
    kit = MallKit(client, services)
    shopper = await kit.shopper(points_balance=5000)
    headers = shopper.headers
    for path in ("/card", "/card/code", "/me", "/points", "/tiers", "/referrals", "/openapi.json"):
        await answers.call("GET", path, headers)
    await answers.call("POST", "/subscriptions", headers, json={"template_ids": ["tpl-1"]})
    image = await client.get("/api/v1/card/image", headers=headers)
    assert image.content_type == "image/png"

    await answers.call("POST", "/checkins", headers)
    clock.set(local(2025, 3, 5, 9, 0))
    await answers.call("POST", "/checkins", headers)
    await answers.call("POST", "/checkins/makeup", headers, json={"date": "2025-03-04"})
    await answers.call("GET", "/checkins", headers)
    await answers.call("GET", "/points/ledger?limit=2", headers)

    template = await create_template(
        services,
        None,
        {
            "title": "满50减10",
            "kind": "cash",
            "value": 1000,
            "threshold_fen": 5000,
            "total_stock": 10,
            "valid_days": 30,
        },
    )
    await answers.call("GET", "/coupons/center", headers)
    await answers.call("POST", f"/coupons/center/{template.id}/claim", headers)
    await answers.call("GET", "/coupons", headers)

    cup = await kit.item(limit_count=2, limit_period=LimitPeriod.MONTH)
    voucher = await kit.virtual_item(["V-1", "V-2"])
    coupon = await kit.item(kind=ItemKind.COUPON)
    await answers.call("GET", "/mall/items", headers)
    await answers.call("GET", f"/mall/items/{cup.id}", headers)
    redeem = {"Idempotency-Key": new_key()} | headers
    physical = await answers.call(
        "POST", "/mall/redemptions", redeem, json={"item_id": cup.id, "address": ADDRESS}
    )
    for item in (voucher, coupon):
        redeem = {"Idempotency-Key": new_key()} | headers
        await answers.call("POST", "/mall/redemptions", redeem, json={"item_id": item.id})
    await answers.call("GET", "/mall/redemptions", headers)
    await answers.call("GET", f"/mall/redemptions/{physical['id']}", headers)
    await answers.call("POST", f"/mall/redemptions/{physical['id']}/cancel", headers, json={})
    await answers.call("GET", "/me/export", headers)
    await WalletCard.create(
        id=1,
        color="Color010",
        title="会员卡",
        notice="出示会员码",
        description="说明",
        prerogative="特权",
        card_id="pOpenApiCard",
        review_state=ReviewState.APPROVED,
        updated_at=services.clock.now(),
    )
    await answers.call("GET", "/card/wechat-card", headers)

    # the binding's token comes from the bot (tests/bot/test_official_binding.py checks it)
    elsewhere = {("POST", "/official-binding")}
    assert answers.seen == _described(create_miniapp_app) - elsewhere


async def test_described_admin_answers_match_their_models(
    client: TestClient, services: Services, login_as: StaffLogin, fake_wechat: FakeWeChat
) -> None:
    answers = Answers(client, "/admin/api/v1", create_admin_app)
    owner = await login_as("owner")
    cashier = await login_as("cashier")
    member = await create_member()
    headers = auth_headers(services, member)
    code = (await (await client.get("/api/v1/card/code", headers=headers)).json())["code"]

    await answers.call("GET", "/openapi.json", owner)
    await answers.call("GET", "/members?name=张三", owner)
    await answers.call("GET", f"/members/{member.id}?reveal=phone", owner)
    adjust = owner | {"Idempotency-Key": "openapi-adjust-1"}
    body = {"amount": 50, "reason": "goodwill"}
    await answers.call("POST", f"/members/{member.id}/points-adjustments", adjust, json=body)
    await answers.call("GET", f"/members/{member.id}/points-ledger", owner)

    template = {"title": "满50减10", "kind": "cash", "value": 1000, "threshold_fen": 5000}
    created = await answers.call(
        "POST", "/coupon-templates", owner, json=template | {"total_stock": 10, "valid_days": 30}
    )
    path = f"/coupon-templates/{created['id']}"
    await answers.call("GET", "/coupon-templates", owner)
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"terms": "门店通用"})
    await answers.call("POST", f"{path}/stop", owner)

    ladder = await answers.call("GET", "/tiers", owner)
    rung = {
        "name": "银卡",
        "level": 1,
        "color": "#C0C0C0",
        "growth_threshold": 1000,
        "retention_threshold": 500,
        "multiplier_percent": 120,
        "benefits": [],
        "upgrade_gift_points": 0,
    }
    silver = await answers.call("POST", "/tiers", owner, json=rung)
    await answers.call("GET", f"/tiers/{silver['id']}", owner)
    await answers.call("PUT", f"/tiers/{silver['id']}", owner, json=rung | {"name": "银卡会员"})
    await answers.call("PATCH", f"/tiers/{silver['id']}", owner, json={"color": "#A0A0A0"})
    assert ladder["items"]
    move = {"tier_id": silver["id"], "note": "VIP"}
    await answers.call("PUT", f"/members/{member.id}/tier", owner, json=move)
    await answers.call("GET", f"/tier-changes?member_id={member.id}", owner)
    await evaluate_tiers(services)
    await answers.call("GET", "/tier-evaluations", owner)

    await answers.call("GET", "/checkin-rules", owner)
    rules = {
        "base_points": 5,
        "cycle_days": 7,
        "bonuses": [{"day": 7, "points": 20}],
        "makeup_per_month": 2,
        "makeup_price_points": 10,
    }
    changed = await answers.call("PUT", "/checkin-rules", owner, json=rules)
    assert changed["next"] is not None

    await answers.call("POST", "/pos/identify", cashier, json={"code": code})
    sale = {"member_id": member.id, "order_no": "A-0001", "amount_fen": 12800}
    await answers.call("POST", "/pos/purchases", cashier, json=sale)
    refund = {"order_no": "A-0001", "refund_no": "R-0001", "amount_fen": 2800}
    await answers.call("POST", "/pos/refunds", cashier, json=refund)

    voucher = await create_template(
        services, None, template | {"obtain": "issued", "total_stock": 5, "valid_days": 30}
    )
    grant = owner | {"Idempotency-Key": "openapi-grant-1"}
    given = await answers.call(
        "POST",
        f"/members/{member.id}/coupons",
        grant,
        json={"template_id": voucher.id, "reason": "goodwill"},
    )
    await answers.call("GET", f"/members/{member.id}/coupons", owner)
    await answers.call("GET", f"/pos/coupons/{given['code']}?order_amount_fen=8000", cashier)
    use = {"code": given["code"], "order_no": "A-0002", "order_amount_fen": 8000}
    await answers.call("POST", "/pos/coupons/redeem", cashier, json=use)
    await answers.call(
        "POST", "/pos/coupons/void", cashier, json={"code": given["code"], "order_no": "A-0002"}
    )

    await _admin_mall(answers, client, services, owner)
    await _admin_staff(answers, owner)
    await _admin_reminders(answers, fake_wechat, owner, member.id)
    await _admin_tags(answers, owner)
    await _admin_member_imports(answers, owner)
    await _admin_rfm(answers, owner, member.id)
    await _admin_saved_segments(answers, owner, silver["id"])
    await _admin_campaigns(answers, services, owner, voucher.id)
    await _admin_benefits(answers, services, owner, member.id, voucher.id)
    await _admin_referrals(answers, client, services, fake_wechat, owner)
    await _admin_stores(answers, owner)
    await _admin_member_wallet_events(answers, owner, member.id)
    await _admin_wallet_card(answers, owner)

    assert answers.seen == _described(create_admin_app)


async def _admin_wallet_card(answers: Answers, owner: dict[str, str]) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
    await answers.call("GET", "/wallet-card", owner)
    await answers.call("POST", "/wallet-card/logo", owner, json={"content_base64": png})
    definition = {
        "color": "Color010",
        "title": "会员卡",
        "notice": "出示会员码",
        "description": "积分兑换礼品",
        "prerogative": "会员专享",
    }
    shown = await answers.call("PUT", "/wallet-card", owner, json=definition)
    assert shown["review_state"] == "submitted"
    await answers.call("POST", "/wallet-card/sync", owner)
    await answers.call("GET", "/wallet-card/backlog", owner)


async def _admin_benefits(
    answers: Answers, services: Services, owner: dict[str, str], member_id: int, template_id: int
) -> None:
    now = services.clock.now()
    await BenefitGrant.create(
        member_id=member_id,
        kind=BenefitKind.BIRTHDAY_GIFT,
        occasion="2026",
        day=date(2026, 5, 17),
        tier_name="金卡",
        items=[{"points": 100}, {"template_id": template_id}],
        state=GrantState.FAILED,
        paid=[{"points": 100, "points_entry_id": 1}],
        failures=[{"template_id": template_id, "code": "sold_out"}],
        created_at=now,
        updated_at=now,
    )
    page = await answers.call("GET", f"/benefit-grants?member_id={member_id}&occasion=2026", owner)
    assert page["items"]


async def _admin_referrals(
    answers: Answers,
    client: TestClient,
    services: Services,
    fake_wechat: FakeWeChat,
    owner: dict[str, str],
) -> None:
    await answers.call("GET", "/referral-settings", owner)
    settings = {"enabled": True, "reward_on": "card_opening", "referrer_points": 10}
    await answers.call("PUT", "/referral-settings", owner, json=settings)
    _, code = await referrer(services)
    await invitee(client, fake_wechat, "o-referred", code)
    page = await answers.call("GET", "/referrals", owner)
    await answers.call("GET", "/referrals/leaderboard", owner)
    referral_id = page["items"][0]["id"]
    await answers.call("POST", f"/referrals/{referral_id}/void", owner, json={"reason": "刷单"})


async def _admin_campaigns(
    answers: Answers, services: Services, owner: dict[str, str], coupon_template_id: int
) -> None:
    await answers.call("GET", "/campaigns/fields", owner)
    segment = await answers.call("POST", "/segments", owner, json={"name": "全部", "filter": {}})
    draft = {"name": "回归礼", "segment_id": segment["id"], "points": 20}
    later = await answers.call("POST", "/campaigns", owner, json=draft)
    path = f"/campaigns/{later['id']}"
    await answers.call("PATCH", path, owner, json={"coupon_template_id": coupon_template_id})
    await answers.call("GET", f"{path}/preview", owner)
    start = {"start_at": "2099-01-01T10:00:00+08:00"}
    await answers.call("POST", f"{path}/launch", owner, json=start)
    await answers.call("POST", f"{path}/pause", owner)
    await answers.call("POST", f"{path}/resume", owner)
    await answers.call("POST", f"{path}/cancel", owner)
    now = await answers.call("POST", "/campaigns", owner, json=draft | {"holdout_percent": 50})
    path = f"/campaigns/{now['id']}"
    await answers.call("POST", f"{path}/launch", owner, json={})
    await run_due_campaigns(services, pacer=pacer_for(services))
    await answers.call("GET", path, owner)
    await answers.call("GET", "/campaigns?state=finished", owner)
    await answers.call("GET", f"{path}/deliveries", owner)
    figures = await answers.call("GET", f"{path}/results", owner)
    assert sum(figures["groups"].values()) >= 1
    gone = await answers.call("POST", "/campaigns", owner, json=draft)
    await answers.call("DELETE", f"/campaigns/{gone['id']}", owner)


async def _admin_saved_segments(answers: Answers, owner: dict[str, str], tier_id: int) -> None:
    criteria = {"tier_ids": [tier_id], "points_balance": {"min": 0}, "birth_months": [5]}
    await answers.call("POST", "/segments/preview", owner, json={"filter": criteria})
    made = await answers.call(
        "POST", "/segments", owner, json={"name": "银卡五月生日", "filter": criteria}
    )
    path = f"/segments/{made['id']}"
    await answers.call("GET", "/segments", owner)
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"description": "生日月关怀"})
    await answers.call("GET", f"{path}/count", owner)
    await answers.call("GET", f"{path}/members?limit=5", owner)
    await answers.call("DELETE", path, owner)


async def _admin_rfm(answers: Answers, owner: dict[str, str], member_id: int) -> None:
    await answers.call("GET", f"/members/{member_id}/rfm", owner)
    await answers.call("GET", "/rfm/settings", owner)
    thresholds = {
        "recency_days": [30, 60, 90, 180],
        "frequency": [2, 3, 5, 8],
        "monetary_fen": [10_000, 30_000, 50_000, 100_000],
    }
    body = {"mode": "thresholds", "thresholds": thresholds}
    await answers.call("PUT", "/rfm/settings", owner, json=body)
    await answers.call("POST", "/rfm/runs", owner)
    await answers.call("GET", "/rfm/runs", owner)
    await answers.call("GET", "/rfm/segments", owner)
    await answers.call("GET", "/rfm/movements", owner)
    scored = await answers.call("GET", f"/members/{member_id}/rfm", owner)
    assert scored["rfm"] is not None


async def _admin_mall(
    answers: Answers, client: TestClient, services: Services, owner: dict[str, str]
) -> None:
    cup = {"title": "随行杯", "kind": "physical", "points_price": 3000, "stock": 20}
    item = await answers.call("POST", "/mall/items", owner, json=cup)
    path = f"/mall/items/{item['id']}"
    await answers.call("GET", "/mall/items", owner)
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"title": "保温杯", "limit_count": 2})
    await answers.call("POST", f"{path}/stock", owner, json={"add": 5})
    kit = MallKit(client, services)
    voucher = await kit.virtual_item(["V-1"])
    codes = {"codes": ["V-1", "V-2"]}
    await answers.call("POST", f"/mall/items/{voucher.id}/codes", owner, json=codes)

    shopper = await kit.shopper(points_balance=5000)
    physical = await kit.item()
    orders = []
    for _ in range(2):
        placed = await kit.redeem(shopper, physical.id, key=new_key(), address=ADDRESS)
        assert placed.status == 201, await placed.text()
        orders.append((await placed.json())["id"])
    await kit.redeem(shopper, voucher.id, key=new_key())
    await answers.call("GET", "/mall/redemptions", owner)
    first = f"/mall/redemptions/{orders[0]}"
    await answers.call("GET", f"{first}?reveal=phone", owner)
    shipment = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}
    await answers.call("POST", f"{first}/ship", owner, json=shipment)
    await answers.call("POST", f"{first}/complete", owner)
    await answers.call(
        "POST", f"/mall/redemptions/{orders[1]}/cancel", owner, json={"reason": "缺货"}
    )


async def _admin_staff(answers: Answers, owner: dict[str, str]) -> None:
    account = {"username": "olga", "password": "correct-horse-battery", "role": "operator"}
    created = await answers.call("POST", "/operators", owner, json=account | {"display_name": "O"})
    olga = await answers.call(
        "POST", "/login", {}, json={"username": "olga", "password": account["password"]}
    )
    await answers.call("GET", "/me", bearer(olga["token"]))
    await answers.call("GET", "/operators", owner)
    await answers.call("PATCH", f"/operators/{created['id']}", owner, json={"active": False})
    await answers.call("GET", "/audit-log", owner)


async def _admin_reminders(
    answers: Answers, fake_wechat: FakeWeChat, owner: dict[str, str], member_id: int
) -> None:
    await answers.call("GET", "/reminder-fields", owner)
    fields = rule_fields("birthday")
    register(fake_wechat, fields)
    rule = await answers.call("POST", "/reminder-rules", owner, json=fields)
    path = f"/reminder-rules/{rule['id']}"
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"gift": {"points": 100}})
    await answers.call("GET", "/reminder-rules", owner)
    preview = await answers.call("GET", f"{path}/preview?date=2025-05-17", owner)
    assert preview["items"]
    day = date(2025, 5, 17)
    moment = datetime(2025, 5, 17, 1, 0, tzinfo=UTC)
    await ReminderDelivery.create(
        rule_id=rule["id"],
        member_id=member_id,
        occasion="birthday:2025",
        day=day,
        channel=Channel.MINIAPP_SUBSCRIBE,
        template_id=fields["template_id"],
        page=fields["page"],
        payload={"name1": "张三"},
        state=DeliveryState.SENT,
        attempts=1,
        msgid="m-1",
        created_at=moment,
        updated_at=moment,
        finished_at=moment,
    )
    await answers.call("GET", f"/reminder-deliveries?rule_id={rule['id']}", owner)
    await answers.call("GET", f"/reminder-deliveries/stats?date={day.isoformat()}", owner)


async def _admin_member_imports(answers: Answers, owner: dict[str, str]) -> None:
    upload = {"csv": "手机号,姓名\n13900000001,张三\n12,李四\n", "filename": "会员.csv"}
    done = await answers.call("POST", "/member-imports", owner, json=upload)
    await answers.call("GET", "/member-imports", owner)
    await answers.call("GET", f"/member-imports/{done['id']}", owner)


async def _admin_tags(answers: Answers, owner: dict[str, str]) -> None:
    member = await create_member()
    member.card_no = new_card_number()
    await member.save(update_fields=["card_no"])
    tag = await answers.call("POST", "/tags", owner, json={"name": "VIP", "colour": "#FF8800"})
    path = f"/tags/{tag['id']}"
    await answers.call("GET", "/tags", owner)
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"description": "高价值"})
    await answers.call("PUT", f"/members/{member.id}/tags/{tag['id']}", owner)
    await answers.call("GET", f"/members/{member.id}/tags", owner)
    await answers.call("GET", f"{path}/members", owner)
    upload = {"csv": f"卡号\n{member.card_no}\n123\n", "filename": "名单.csv"}
    done = await answers.call("POST", f"{path}/imports", owner, json=upload)
    await answers.call("GET", f"{path}/imports", owner)
    await answers.call("GET", f"/tag-imports/{done['id']}", owner)
    await answers.call("DELETE", f"/members/{member.id}/tags/{tag['id']}", owner)
    await answers.call("DELETE", path, owner)


async def _admin_stores(answers: Answers, owner: dict[str, str]) -> None:
    from handlers.operators.accounts import create_operator
    from wxmember.core.models import Role

    shop = {"code": "SH-01", "name": "上海店", "city": "上海", "address": "南京西路 1 号"}
    store = await answers.call("POST", "/stores", owner, json=shop)
    path = f"/stores/{store['id']}"
    await answers.call("GET", "/stores", owner)
    await answers.call("GET", path, owner)
    await answers.call("PATCH", path, owner, json={"city": "上海市"})
    await answers.call("GET", f"{path}/figures?days=7", owner)
    await answers.call("GET", f"{path}/members", owner)
    cashier = await create_operator("store-cashier", "correct-horse-battery", Role.CASHIER)
    binding = f"/operators/{cashier.id}/stores"
    await answers.call("PUT", binding, owner, json={"store_ids": [store["id"]]})
    await answers.call("GET", binding, owner)
    await answers.call("PUT", binding, owner, json={"store_ids": []})
    await answers.call("DELETE", path, owner)


async def _admin_member_wallet_events(
    answers: Answers, owner: dict[str, str], member_id: int
) -> None:
    await WalletCardEvent.create(
        push_key="o-openapi:1700000000:user_view_card:",
        event="user_view_card",
        card_id="pOpenApiCard",
        member_id=member_id,
        detail={"OuterStr": "miniapp"},
        created_at=datetime.now(UTC),
    )
    page = await answers.call("GET", f"/members/{member_id}/wallet-card-events", owner)
    assert [item["event"] for item in page["items"]] == ["user_view_card"]
