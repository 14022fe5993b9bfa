"""No request a client can send gets a 500: every declared route, one class of input at a time.

The cases are generated from the route tables (`wxmember.core.endpoints`), not picked by hand:
each class of hostile input goes to every route that reads such input (a body, a query model, a
path id, a session), and must get a 4xx with the error JSON, and no ERROR line in the log.
"""

from __future__ import annotations

import logging
import re
import socket
import types
import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import annotated_types
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from tests.factories import auth_headers, create_member
from tests.support.settings import base_settings
from wxmember.app import create_app
from wxmember.core.config import build_config
from wxmember.core.context import Services
from wxmember.core.endpoints import ENDPOINTS, Endpoint
from wxmember.core.inputs import INT64, MAX_ID
from wxmember.core.models.campaigns import Campaign
from wxmember.core.models.reminders import ReminderRule
from wxmember.core.models.stores import Store
from wxmember.core.models.tags import Tag

StaffLogin = Any


def declared_routes() -> list[tuple[str, Endpoint]]:
    """(prefix, endpoint) for every declared route of the service."""
    app = create_app(build_config(base_settings("sqlite://:memory:", "http://127.0.0.1:9")))
    found = []
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            info = resource.get_info()
            for endpoint in info["app"].get(ENDPOINTS, []):
                found.append((info["prefix"], endpoint))
    return found


ROUTES = declared_routes()


def route_id(route: tuple[str, Endpoint]) -> str:
    prefix, endpoint = route
    return f"{endpoint.method} {prefix}{endpoint.path}"


def with_body(routes: list[tuple[str, Endpoint]]) -> list[tuple[str, Endpoint]]:
    return [route for route in routes if route[1].body is not None]


def with_query(routes: list[tuple[str, Endpoint]]) -> list[tuple[str, Endpoint]]:
    return [route for route in routes if route[1].query is not None]


def with_path_id(routes: list[tuple[str, Endpoint]]) -> list[tuple[str, Endpoint]]:
    return [r for r in routes if any(p.endswith("_id") for p in r[1].path_parameters)]


def url(prefix: str, endpoint: Endpoint, fill: str = "1", query: str = "") -> str:
    path = re.sub(r"{\w+}", fill, endpoint.path)
    return f"{prefix}{path}{query}"


def is_public(endpoint: Endpoint) -> bool:
    return bool(
        getattr(endpoint.handler, "__wxmember_public__", False)
        or getattr(endpoint.handler, "__wxmember_roles__", None) == frozenset()
    )


def annotation_types(annotation: Any) -> set[type]:
    """The plain types an annotation admits (unwrapping Optional, unions, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return annotation_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(annotation_types(arg) for arg in typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


WALL_CLOCK = "2026-01-01T00:00:00"  # a moment without its offset


def takes(field: FieldInfo, value: str) -> bool:
    """Whether the field's own type accepts `value`."""
    try:
        TypeAdapter(field.rebuild_annotation()).validate_python(value)
    except ValidationError:
        return False
    return True


def fields_of(model: type[BaseModel], kind: type) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        if kind in annotation_types(field.annotation):
            yield name, field


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if anything logs at ERROR or above."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.fixture
async def sessions(
    client: TestClient, services: Services, login_as: StaffLogin
) -> dict[str, dict[str, str]]:
    """Headers that get each route past its session check: a card holder, the owner."""
    member = await create_member()
    return {
        "/api/v1": auth_headers(services, member),
        "/admin/api/v1": await login_as("owner"),
    }


async def assert_refused(response: Any, *, status: int | None = None) -> str:
    """A 4xx (or exactly `status`) with the error JSON; its code."""
    text = await response.text()
    assert 400 <= response.status < 500, (response.status, text)
    if status is not None:
        assert response.status == status, text
    body = await response.json()
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return str(body["error"]["code"])


def test_the_route_tables_are_found() -> None:
    prefixes = {prefix for prefix, _ in ROUTES}
    assert "/api/v1" in prefixes
    assert len(ROUTES) >= 25


class TestBodies:
    """JSON bodies nested deep, with very many keys, of the wrong shape, with huge numbers."""

    DEEP = ["[" * 17 + "]" * 17, '{"a":' * 40 + "1" + "}" * 40, "[" * 100_000 + "]" * 100_000]
    WRONG_SHAPES = ["[]", '"x"', "1", "null", "true", "[{}]", "1e999", "NaN", '{"a": Infinity}']

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    async def test_deep_nesting_is_400(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        for document in self.DEEP:
            response = await client.request(
                endpoint.method,
                url(prefix, endpoint),
                data=document,
                headers=sessions[prefix] | {"Content-Type": "application/json"},
            )
            assert await assert_refused(response, status=400) in {
                "body_too_complex",
                "invalid_json",
            }

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    async def test_very_many_keys_are_400(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        document = {f"k{n}": n for n in range(20_000)}
        response = await client.request(
            endpoint.method, url(prefix, endpoint), json=document, headers=sessions[prefix]
        )
        assert await assert_refused(response, status=400) == "body_too_complex"

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    async def test_wrong_shapes_are_400(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        for document in self.WRONG_SHAPES:
            response = await client.request(
                endpoint.method,
                url(prefix, endpoint),
                data=document,
                headers=sessions[prefix] | {"Content-Type": "application/json"},
            )
            await assert_refused(response, status=400)

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    async def test_numbers_beyond_the_columns_are_4xx(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        assert endpoint.body is not None
        for name, _ in fields_of(endpoint.body, int):
            for number in (2**64, -(2**64), INT64, MAX_ID + 1, -(2**31) - 1):
                response = await client.request(
                    endpoint.method,
                    url(prefix, endpoint),
                    json={name: number},
                    headers=sessions[prefix],
                )
                await assert_refused(response)

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    async def test_dates_at_the_ends_of_the_calendar_are_400(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        assert endpoint.body is not None
        hostile = {
            date: ["0001-01-01", "9999-12-31", "0000-01-01", "2026-02-30"],
            datetime: [
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00",
                "9999-12-31T23:59:59",
                WALL_CLOCK,
            ],
        }
        for kind, values in hostile.items():
            for name, field in fields_of(endpoint.body, kind):
                for value in values:
                    if value == WALL_CLOCK and takes(field, value):
                        continue  # a local time (LocalMoment), read in the brand's zone
                    response = await client.request(
                        endpoint.method,
                        url(prefix, endpoint),
                        json={name: value},
                        headers=sessions[prefix],
                    )
                    await assert_refused(response, status=400)


class TestDeclaredNumbers:
    """Every integer a request model accepts is bounded by what its column can hold."""

    @pytest.mark.parametrize("route", ROUTES, ids=route_id)
    def test_every_integer_field_is_bounded(self, route: tuple[str, Endpoint]) -> None:
        _, endpoint = route
        for model in (endpoint.body, endpoint.query):
            if model is None:
                continue
            for name, field in fields_of(model, int):
                low = [m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)]
                high = [m.le for m in field.metadata if isinstance(m, annotated_types.Le)]
                ceiling = INT64 if name.endswith("_fen") else MAX_ID
                if name == "cursor":
                    continue  # hex text, bounded by its parser
                assert high and high[0] <= ceiling, f"{model.__name__}.{name} has no upper bound"
                assert low and low[0] >= -ceiling, f"{model.__name__}.{name} has no lower bound"


class TestQueries:
    """Query parameters: numbers written oddly or too large, dates at the calendar's ends."""

    ODD_NUMBERS = ["１", "²", "٣", "1_0", " 1", "0x10", "1e3", "9" * 40, "-1", "１٢"]
    ODD_CURSORS = ["ffffffffffffffffff", "FF", "0x1f", "１", "-1", "g", " 1", "1" * 17]
    ODD_DATES = ["0001-01-01", "9999-12-31", "2026-13-01", "２０２６-01-01", "2026-1-1"]

    @pytest.mark.parametrize("route", with_query(ROUTES), ids=route_id)
    async def test_odd_values_are_400(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        assert endpoint.query is not None
        cases: list[tuple[str, str]] = []
        for name, _ in fields_of(endpoint.query, int):
            values = self.ODD_CURSORS if name == "cursor" else self.ODD_NUMBERS
            cases += [(name, value) for value in values if name != "limit" or value != "-1"]
        for name, _ in fields_of(endpoint.query, date):
            cases += [(name, value) for value in self.ODD_DATES]
        for name, value in cases:
            response = await client.request(
                endpoint.method,
                url(prefix, endpoint),
                params={name: value},
                headers=sessions[prefix],
            )
            assert await assert_refused(response, status=400) == f"invalid_{name}", (name, value)

    @pytest.mark.parametrize("route", with_query(ROUTES), ids=route_id)
    async def test_cursors_beyond_the_id_columns_answer_a_page(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        assert endpoint.query is not None
        if "cursor" not in endpoint.query.model_fields:
            pytest.skip("not a paged list")
        await ReminderRule.create(  # id 1, for a rule's preview (the member 1 exists already)
            name="生日",
            kind="birthday",
            send_time="09:00",
            channel="miniapp_subscribe",
            template_id="tpl-birthday",
        )
        await Tag.create(name="常客", name_key="常客")  # id 1, for a tag's members and imports
        moment = datetime.now(UTC)  # id 1, for a campaign's members
        await Campaign.create(name="回归", salt="0" * 32, created_at=moment, updated_at=moment)
        await Store.create(code="S1", name="门店", created_at=moment, updated_at=moment)  # id 1
        for cursor in ("80000000", "ffffffff", "7fffffffffffffff"):
            response = await client.request(
                endpoint.method,
                url(prefix, endpoint),
                params={"cursor": cursor},
                headers=sessions[prefix],
            )
            if response.status != 200:  # a list ordered by something else refuses the cursor
                assert await assert_refused(response, status=400) == "invalid_cursor"


class TestPathIds:
    """Only ASCII digits are an id: anything else is 404, never another record."""

    ODD_IDS = ["１", "²", "٣", "0x1", "1.0", "-1", "1e3", "%201", "99999999999", "2147483648"]

    @pytest.mark.parametrize("route", with_path_id(ROUTES), ids=route_id)
    async def test_odd_ids_are_404(
        self, client: TestClient, sessions: dict, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        for odd in self.ODD_IDS:
            response = await client.request(
                endpoint.method, url(prefix, endpoint, fill=odd), headers=sessions[prefix]
            )
            assert await assert_refused(response, status=404) == "not_found", odd


class TestBearerTokens:
    """Tokens with non-ASCII, over-long or malformed parts: 401, for every private route."""

    TOKENS = ["é", "a" * 5000, "a.b", "..", "a.b.c.d", "=.=", "eyJ.\u00e9", "a" * 511 + "."]

    @pytest.mark.parametrize("route", [r for r in ROUTES if not is_public(r[1])], ids=route_id)
    async def test_odd_tokens_are_401(
        self, client: TestClient, quiet: None, route: tuple[str, Endpoint]
    ) -> None:
        prefix, endpoint = route
        for token in self.TOKENS:
            response = await client.request(
                endpoint.method,
                url(prefix, endpoint),
                headers={"Authorization": f"Bearer {token}".encode().decode("latin-1")},
            )
            assert await assert_refused(response, status=401) == "invalid_token", token


class TestDisconnect:
    """A client that disconnects in the middle of its body: no error, no 500 counted."""

    async def test_a_body_cut_short_is_not_an_error(
        self, client: TestClient, sessions: dict, quiet: None
    ) -> None:
        prefix, endpoint = with_body(ROUTES)[0]
        headers = sessions[prefix] | {"Content-Type": "application/json", "Content-Length": "5000"}
        request = f"{endpoint.method} {url(prefix, endpoint)} HTTP/1.1\r\nHost: test\r\n"
        request += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        server = client.server
        with socket.create_connection((server.host, server.port)) as raw:
            raw.sendall((request + "\r\n" + '{"code": "').encode())
        for _ in range(50):  # let the server notice
            await client.get("/healthz")
        metrics = await (await client.get("/metrics")).text()
        assert [line for line in metrics.splitlines() if 'status="500"' in line] == []


def text_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted name, model) of every text field of a body model, nested models included."""
    for name, field in model.model_fields.items():
        kinds = annotation_types(field.annotation)
        if str in kinds:
            yield prefix + name, model
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from text_fields(kind, f"{prefix}{name}.")


# Fields that are not typed text: secrets and codes (every character counts), choices
# checked against a list (gender), a file's content (a CSV, judged row by row).
NOT_TYPED_TEXT = {"password", "code", "phone_code", "token", "phone", "gender", "csv"}


class TestTypedText:
    """Text people type refuses control and bidirectional-override characters, in every body."""

    @pytest.mark.parametrize("route", with_body(ROUTES), ids=route_id)
    @pytest.mark.parametrize("sample", ["a\u202eb", "a\x00b", "a\x1b[31mb", "a\u200fb"])
    def test_control_and_bidi_characters_are_refused(
        self, route: tuple[str, Endpoint], sample: str
    ) -> None:
        _, endpoint = route
        assert endpoint.body is not None
        for dotted, model in text_fields(endpoint.body):
            name = dotted.rpartition(".")[2]
            if name in NOT_TYPED_TEXT:
                continue
            try:
                model.model_validate({name: sample})
            except ValidationError as exc:
                refused = {error["loc"][0] for error in exc.errors()}
                assert name in refused, f"{model.__name__}.{name} accepts {sample!r}"
            else:
                pytest.fail(f"{model.__name__}.{name} accepts {sample!r}")
