"""WeChat login and logout of members: `POST /api/v1/session`, `POST /api/v1/session/logout`."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.members.flows import login
from tests.support.http import bearer, error_code
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member

SESSION_KEY = base64.b64encode(b"0123456789abcdef").decode()
CODE2SESSION = "/sns/jscode2session"


def _token_payload(token: str) -> str:
    body = token.split(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


async def _post_code(
    client: TestClient, code: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/v1/session", json={"code": code}, headers=headers)
    return response.status, await response.json()


def _from(address: str) -> dict[str, str]:
    """The headers nginx adds for a client at `address`."""
    return {"X-Forwarded-For": address, "X-Real-IP": address}


class TestLogin:
    async def test_new_member_gets_a_token_that_reveals_nothing(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        code = fake_wechat.issue_login_code("o-alice", session_key=SESSION_KEY)
        response = await client.post("/api/v1/session", json={"code": code})
        assert response.status == 200
        body = await response.json()
        assert body["expires_in"] == services.config.security.session_ttl_seconds
        assert body["has_card"] is False
        assert body["member"]["has_card"] is False
        assert body["member"]["card_no"] is None
        raw = json.dumps(body) + _token_payload(body["token"])
        assert "o-alice" not in raw
        assert SESSION_KEY not in raw
        member = await Member.get(openid="o-alice")
        assert body["member"]["id"] == member.id
        # the session key is kept, encrypted
        assert member.session_key_enc is not None and SESSION_KEY not in member.session_key_enc
        assert services.cipher.decrypt(member.session_key_enc) == SESSION_KEY
        me = await client.get("/api/v1/me", headers=bearer(body["token"]))
        assert me.status == 200
        assert (await me.json())["id"] == member.id

    async def test_returning_member_is_the_same_member(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        first = await login(client, fake_wechat, "o-bob")
        second = await login(client, fake_wechat, "o-bob")
        assert first["member"]["id"] == second["member"]["id"]
        assert await Member.filter(openid="o-bob").count() == 1
        other = await login(client, fake_wechat, "o-carol")
        assert other["member"]["id"] != first["member"]["id"]

    async def test_unionid_is_stored_when_given(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        await login(client, fake_wechat, "o-dan")
        assert (await Member.get(openid="o-dan")).unionid is None
        await login(client, fake_wechat, "o-dan", unionid="u-dan")
        assert (await Member.get(openid="o-dan")).unionid == "u-dan"
        await login(client, fake_wechat, "o-dan")  # WeChat leaves it out: we keep ours
        assert (await Member.get(openid="o-dan")).unionid == "u-dan"

    async def test_concurrent_first_logins_create_one_member(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        codes = [fake_wechat.issue_login_code("o-eve") for _ in range(10)]
        results = await asyncio.gather(*(_post_code(client, code) for code in codes))
        assert [status for status, _ in results] == [200] * 10
        assert len({body["member"]["id"] for _, body in results}) == 1
        assert await Member.filter(openid="o-eve").count() == 1

    async def test_invalid_code_is_401(self, client: TestClient) -> None:
        status, body = await _post_code(client, "never-issued")
        assert status == 401
        assert body["error"]["code"] == "invalid_code"
        assert await Member.all().count() == 0

    async def test_reused_code_is_401(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        code = fake_wechat.issue_login_code("o-frank")
        assert (await _post_code(client, code))[0] == 200
        status, body = await _post_code(client, code)
        assert status == 401
        assert body["error"]["code"] == "code_used"

    async def test_risky_login_blocked_by_wechat_is_403(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject(CODE2SESSION, errcode=40226, errmsg="high risk user")
        status, body = await _post_code(client, fake_wechat.issue_login_code("o-gina"))
        assert status == 403
        assert body["error"]["code"] == "login_blocked"

    @pytest.mark.parametrize(
        ("fault", "status", "code"),
        [
            ({"status": 502, "times": 2}, 503, "wechat_unavailable"),
            ({"errcode": -1, "times": 2}, 503, "wechat_unavailable"),
            ({"errcode": 40125}, 503, "wechat_unavailable"),
            ({"errcode": 45011}, 429, "wechat_rate_limited"),
        ],
    )
    async def test_wechat_failures(
        self,
        client: TestClient,
        fake_wechat: FakeWeChat,
        fault: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        fake_wechat.inject(CODE2SESSION, **fault)
        got_status, body = await _post_code(client, fake_wechat.issue_login_code("o-hal"))
        assert got_status == status
        assert body["error"]["code"] == code
        assert await Member.all().count() == 0

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "invalid_code"),
            ({"code": ""}, "invalid_code"),
            ({"code": 123}, "invalid_code"),
            ({"code": "x" * 129}, "invalid_code"),
            ({"code": "abc", "openid": "o-1"}, "invalid_openid"),
            ([], "validation_failed"),
        ],
    )
    async def test_bad_body_is_400(self, client: TestClient, body: Any, code: str) -> None:
        response = await client.post("/api/v1/session", json=body)
        assert response.status == 400
        assert await error_code(response) == code


class TestLoginRateLimit:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["security"]["member_logins_per_address_per_minute"] = 20
        return settings

    async def test_per_address(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        statuses = []
        for n in range(22):
            code = fake_wechat.issue_login_code(f"o-{n}")
            statuses.append((await _post_code(client, code))[0])
        assert statuses == [200] * 20 + [429, 429]
        assert fake_wechat.calls[CODE2SESSION] == 20

    async def test_per_code(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        code = fake_wechat.issue_login_code("o-ivy")
        results = [await _post_code(client, code) for _ in range(5)]
        assert [status for status, _ in results] == [200, 401, 401, 429, 429]
        assert results[3][1]["error"]["code"] == "too_many_requests"
        assert fake_wechat.calls[CODE2SESSION] == 3
        # another code of the same user is not affected
        assert (await _post_code(client, fake_wechat.issue_login_code("o-ivy")))[0] == 200


class TestLoginRateLimitBehindAProxy:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["server"] = {"trusted_proxies": ["127.0.0.1"]}  # the test client's address
        settings["security"]["member_logins_per_address_per_minute"] = 3
        settings["security"]["member_logins_per_minute"] = 10
        return settings

    async def test_junk_codes_from_one_address_do_not_stop_another_address(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        attacker = _from("198.51.100.66")
        statuses = [(await _post_code(client, f"junk-{n}", attacker))[0] for n in range(8)]
        assert statuses == [401] * 3 + [429] * 5
        code = fake_wechat.issue_login_code("o-kim")
        assert (await _post_code(client, code, _from("203.0.113.7")))[0] == 200
        assert fake_wechat.calls[CODE2SESSION] == 4

    async def test_each_client_behind_the_proxy_has_its_own_budget(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        for address in ("203.0.113.1", "203.0.113.2"):
            statuses = []
            for n in range(4):
                code = fake_wechat.issue_login_code(f"o-{n}")
                statuses.append((await _post_code(client, code, _from(address)))[0])
            assert statuses == [200, 200, 200, 429], address

    async def test_the_brand_wide_ceiling_still_applies(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        statuses = []
        for n in range(12):
            code = fake_wechat.issue_login_code(f"o-{n}")
            statuses.append((await _post_code(client, code, _from(f"203.0.113.{n}")))[0])
        assert statuses == [200] * 10 + [429, 429]
        assert fake_wechat.calls[CODE2SESSION] == 10

    async def test_malformed_proxy_headers_are_ignored(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = {"X-Forwarded-For": "<script>, ::::, 999.1.1.1", "X-Real-IP": "nobody"}
        statuses = [
            (await _post_code(client, fake_wechat.issue_login_code(f"o-{n}"), headers))[0]
            for n in range(4)
        ]
        assert statuses == [200, 200, 200, 429]  # all from the proxy's own address


class TestLoginRateLimitWithoutTrustedProxies:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["security"]["member_logins_per_address_per_minute"] = 3
        return settings

    async def test_an_untrusted_peers_forwarded_for_is_ignored(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        statuses = []
        for n in range(4):
            code = fake_wechat.issue_login_code(f"o-{n}")
            statuses.append((await _post_code(client, code, _from(f"203.0.113.{n}")))[0])
        assert statuses == [200, 200, 200, 429]


class TestLogout:
    async def test_logout_revokes_every_token(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        phone = bearer((await login(client, fake_wechat, "o-jo"))["token"])
        tablet = bearer((await login(client, fake_wechat, "o-jo"))["token"])
        response = await client.post("/api/v1/session/logout", headers=phone)
        assert response.status == 204
        for headers in (phone, tablet):
            again = await client.get("/api/v1/me", headers=headers)
            assert again.status == 401
            assert await error_code(again) == "invalid_token"
        fresh = bearer((await login(client, fake_wechat, "o-jo"))["token"])
        assert (await client.get("/api/v1/me", headers=fresh)).status == 200

    async def test_logout_needs_a_session(self, client: TestClient) -> None:
        response = await client.post("/api/v1/session/logout")
        assert response.status == 401
        assert await error_code(response) == "missing_token"
