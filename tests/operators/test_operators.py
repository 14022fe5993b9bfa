"""Operator login and logout, roles, rate limits and the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.operators.accounts import create_operator
from tests.conftest import StaffLogin
from tests.support.http import bearer, error_code
from wxmember.core.context import Services
from wxmember.core.errors import Conflict
from wxmember.core.models import AuditEntry, Operator, Role
from wxmember.core.security import verify_password

PASSWORD = "correct-horse-battery"
WRONG = "wrong-password-1"
LOGIN = "/admin/api/v1/login"


async def _login(
    client: TestClient, username: str, password: str, address: str | None = None
) -> int:
    """The status of a login attempt, from `address` when given (behind the trusted proxy)."""
    headers = {"X-Forwarded-For": address} if address else None
    response = await client.post(
        LOGIN, json={"username": username, "password": password}, headers=headers
    )
    return response.status


class TestLogin:
    async def test_login_returns_expiring_token(self, client: TestClient) -> None:
        await create_operator("alice", PASSWORD, Role.OPERATOR)
        response = await client.post(
            "/admin/api/v1/login", json={"username": "alice", "password": PASSWORD}
        )
        assert response.status == 200
        body = await response.json()
        assert body["expires_in"] == 12 * 3600
        assert body["operator"] == {
            "id": 1,
            "username": "alice",
            "display_name": "alice",
            "role": "operator",
            "active": True,
        }
        me = await client.get("/admin/api/v1/me", headers=bearer(body["token"]))
        assert (await me.json())["username"] == "alice"

    async def test_password_is_stored_hashed(self, client: TestClient) -> None:
        operator = await create_operator("bob", PASSWORD, Role.CASHIER)
        stored = (await Operator.get(id=operator.id)).password_hash
        assert PASSWORD not in stored
        assert stored.startswith("$argon2id$")
        assert verify_password(stored, PASSWORD)

    @pytest.mark.parametrize(
        ("username", "password"), [("alice", "wrong-password-1"), ("nobody", PASSWORD)]
    )
    async def test_wrong_credentials(
        self, client: TestClient, username: str, password: str
    ) -> None:
        await create_operator("alice", PASSWORD, Role.OPERATOR)
        response = await client.post(
            "/admin/api/v1/login", json={"username": username, "password": password}
        )
        assert response.status == 401
        assert await error_code(response) == "invalid_credentials"

    async def test_disabled_operator_cannot_log_in(self, client: TestClient) -> None:
        operator = await create_operator("carol", PASSWORD, Role.OPERATOR)
        await Operator.filter(id=operator.id).update(active=False)
        response = await client.post(
            "/admin/api/v1/login", json={"username": "carol", "password": PASSWORD}
        )
        assert response.status == 401

    async def test_failures_are_limited_per_username_and_address(self, client: TestClient) -> None:
        await create_operator("dave", PASSWORD, Role.OPERATOR)
        statuses = []
        for _ in range(12):
            response = await client.post(
                "/admin/api/v1/login", json={"username": "dave", "password": "wrong-password-1"}
            )
            statuses.append(response.status)
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
        right = await client.post(
            "/admin/api/v1/login", json={"username": "dave", "password": PASSWORD}
        )
        assert right.status == 429

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"username": "a"}, "invalid_username"),
            ({"username": "alice"}, "invalid_password"),
            ({"username": "alice", "password": "x", "extra": 1}, "invalid_extra"),
            ([1, 2], "validation_failed"),
        ],
    )
    async def test_bad_body_is_400(self, client: TestClient, body: object, code: str) -> None:
        response = await client.post("/admin/api/v1/login", json=body)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_not_json_is_400(self, client: TestClient) -> None:
        response = await client.post("/admin/api/v1/login", data="username=a")
        assert response.status == 400
        assert await error_code(response) == "not_json"
        response = await client.post(
            "/admin/api/v1/login", data="{nope", headers={"Content-Type": "application/json"}
        )
        assert await error_code(response) == "invalid_json"


class TestLoginLimits:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["server"] = {"trusted_proxies": ["127.0.0.1"]}  # the test client's address
        settings["security"] |= {
            "login_attempts_per_minute": 3,
            "staff_login_failures_per_address_per_minute": 5,
        }
        return settings

    async def test_the_owner_logs_in_while_an_attacker_is_locked_out_elsewhere(
        self, client: TestClient
    ) -> None:
        await create_operator("owner", PASSWORD, Role.OWNER)
        attacker, home = "198.51.100.66", "203.0.113.7"
        statuses = [await _login(client, "owner", WRONG, attacker) for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        assert await _login(client, "owner", PASSWORD, attacker) == 429
        assert await _login(client, "owner", PASSWORD, home) == 200

    async def test_a_successful_login_does_not_count(self, client: TestClient) -> None:
        await create_operator("olga", PASSWORD, Role.OPERATOR)
        for _ in range(6):
            assert await _login(client, "olga", PASSWORD, "203.0.113.7") == 200
        statuses = [await _login(client, "olga", WRONG, "203.0.113.7") for _ in range(4)]
        assert statuses == [401, 401, 401, 429]

    async def test_the_budget_of_a_username_ignores_its_case(self, client: TestClient) -> None:
        await create_operator("owner", PASSWORD, Role.OWNER)
        statuses = [
            await _login(client, name, WRONG, "198.51.100.66")
            for name in ("owner", "Owner", "OWNER", "oWnEr")
        ]
        assert statuses == [401, 401, 401, 429]

    async def test_failures_across_usernames_are_limited_per_address(
        self, client: TestClient
    ) -> None:
        statuses = [await _login(client, f"user{n}", WRONG, "198.51.100.66") for n in range(7)]
        assert statuses == [401] * 5 + [429, 429]
        assert await _login(client, "user9", WRONG, "203.0.113.7") == 401

    async def test_concurrent_guesses_cannot_exceed_the_budget(self, client: TestClient) -> None:
        await create_operator("owner", PASSWORD, Role.OWNER)
        statuses = await asyncio.gather(
            *(_login(client, "owner", WRONG, "198.51.100.66") for _ in range(8))
        )
        assert sorted(statuses) == [401] * 3 + [429] * 5


class TestUsernames:
    async def test_login_ignores_the_case_of_the_username(self, client: TestClient) -> None:
        await create_operator("alice", PASSWORD, Role.OPERATOR)
        for typed in ("Alice", "ALICE", " alice "):
            response = await client.post(LOGIN, json={"username": typed, "password": PASSWORD})
            assert response.status == 200, typed
            assert (await response.json())["operator"]["username"] == "alice"

    async def test_usernames_are_stored_lower_case(self, client: TestClient) -> None:
        operator = await create_operator("Alice", PASSWORD, Role.OPERATOR)
        assert (operator.username, operator.display_name) == ("alice", "Alice")
        assert await _login(client, "alice", PASSWORD) == 200

    async def test_a_username_taken_in_another_case_is_409(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner", "owner")
        response = await client.post(
            "/admin/api/v1/operators",
            json={"username": "Owner", "password": "long-enough-pass", "role": "cashier"},
            headers=headers,
        )
        assert response.status == 409
        assert await error_code(response) == "username_taken"
        assert await Operator.all().count() == 1

    async def test_an_account_stored_in_mixed_case_still_logs_in(self, client: TestClient) -> None:
        operator = await create_operator("legacy", PASSWORD, Role.OPERATOR)
        await Operator.filter(id=operator.id).update(username="Legacy")
        assert await _login(client, "legacy", PASSWORD) == 200
        assert await _login(client, "LEGACY", PASSWORD) == 200
        with pytest.raises(Conflict) as taken:
            await create_operator("LEGACY", PASSWORD, Role.CASHIER)
        assert taken.value.code == "username_taken"


class TestLogout:
    async def test_logout_revokes_the_token(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("cashier", "cash9")
        response = await client.post("/admin/api/v1/logout", headers=headers)
        assert response.status == 204
        again = await client.get("/admin/api/v1/me", headers=headers)
        assert again.status == 401
        assert await error_code(again) == "invalid_token"
        assert (await client.post("/admin/api/v1/logout", headers=headers)).status == 401

    async def test_logout_ends_every_session_and_a_new_login_works(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        laptop = await login_as("operator", "olga")
        response = await client.post(LOGIN, json={"username": "olga", "password": PASSWORD})
        phone = bearer((await response.json())["token"])
        assert (await client.post("/admin/api/v1/logout", headers=laptop)).status == 204
        assert (await client.get("/admin/api/v1/me", headers=phone)).status == 401
        response = await client.post(LOGIN, json={"username": "olga", "password": PASSWORD})
        fresh = bearer((await response.json())["token"])
        assert (await client.get("/admin/api/v1/me", headers=fresh)).status == 200

    async def test_logout_is_audited(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("owner", "olivia")
        await client.post("/admin/api/v1/logout", headers=headers | {"X-Request-Id": "req-bye-01"})
        entry = await AuditEntry.get(action="operator.logout")
        olivia = await Operator.get(username="olivia")
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "olivia",
            "operator",
            str(olivia.id),
        )
        assert entry.request_id == "req-bye-01"

    async def test_logout_needs_a_session(self, client: TestClient) -> None:
        response = await client.post("/admin/api/v1/logout")
        assert response.status == 401
        assert await error_code(response) == "missing_token"


class TestRoles:
    @pytest.mark.parametrize(
        ("role", "path", "expected"),
        [
            ("owner", "/admin/api/v1/operators", 200),
            ("operator", "/admin/api/v1/operators", 403),
            ("cashier", "/admin/api/v1/operators", 403),
            ("owner", "/admin/api/v1/audit-log", 200),
            ("cashier", "/admin/api/v1/audit-log", 403),
            ("cashier", "/admin/api/v1/me", 200),
        ],
    )
    async def test_role_allowed_or_refused(
        self, client: TestClient, login_as: StaffLogin, role: str, path: str, expected: int
    ) -> None:
        headers = await login_as(role)
        response = await client.get(path, headers=headers)
        assert response.status == expected
        if expected == 403:
            assert await error_code(response) == "role_not_allowed"

    @pytest.mark.parametrize(
        "header", [None, "Bearer", "Bearer not-a-token", "Basic abc", "Bearer a.b"]
    )
    async def test_missing_or_bad_token(self, client: TestClient, header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = await client.get("/admin/api/v1/me", headers=headers)
        assert response.status == 401

    async def test_member_token_is_not_an_operator_token(
        self, client: TestClient, services: Services
    ) -> None:
        operator = await create_operator("eve", PASSWORD, Role.OWNER)
        token = services.tokens.sign("member", operator.id, 1, 60)
        response = await client.get("/admin/api/v1/me", headers=bearer(token))
        assert response.status == 401

    async def test_every_admin_route_declares_roles(self, client: TestClient) -> None:
        from admin.auth import ROLES_ATTR
        from admin.routes import create_admin_app

        for route in create_admin_app().router.routes():
            assert getattr(route.handler, ROLES_ATTR, None) is not None, route


class TestOperatorWrites:
    async def test_create_is_audited(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("owner", "olivia")
        response = await client.post(
            "/admin/api/v1/operators",
            json={"username": "cash1", "password": "long-enough-pass", "role": "cashier"},
            headers=headers | {"X-Request-Id": "req-create-cash1"},
        )
        assert response.status == 201
        entry = await AuditEntry.get(action="operator.create")
        assert entry.actor == "olivia"
        assert entry.target_type == "operator"
        assert entry.before is None
        assert entry.after is not None
        assert entry.after["username"] == "cash1"
        assert "password_hash" not in entry.after
        assert entry.request_id == "req-create-cash1"
        log = await client.get("/admin/api/v1/audit-log", headers=headers)
        assert (await log.json())["items"][0]["action"] == "operator.create"

    async def test_update_revokes_tokens_and_records_before_after(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        cashier = await login_as("cashier", "cash2")
        cashier_id = (await Operator.get(username="cash2")).id
        response = await client.patch(
            f"/admin/api/v1/operators/{cashier_id}", json={"role": "operator"}, headers=owner
        )
        assert response.status == 200
        assert (await client.get("/admin/api/v1/me", headers=cashier)).status == 401
        entry = await AuditEntry.get(action="operator.update")
        assert entry.before is not None and entry.after is not None
        assert entry.before["role"] == "cashier"
        assert entry.after["role"] == "operator"

    async def test_duplicate_username_is_409(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner", "olivia")
        response = await client.post(
            "/admin/api/v1/operators",
            json={"username": "olivia", "password": "long-enough-pass", "role": "cashier"},
            headers=headers,
        )
        assert response.status == 409
        assert await error_code(response) == "username_taken"

    async def test_weak_password_and_bad_role(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner")
        weak = await client.post(
            "/admin/api/v1/operators",
            json={"username": "x1", "password": "short", "role": "cashier"},
            headers=headers,
        )
        assert await error_code(weak) == "weak_password"
        role = await client.post(
            "/admin/api/v1/operators",
            json={"username": "x1", "password": "long-enough-pass", "role": "king"},
            headers=headers,
        )
        assert await error_code(role) == "invalid_role"
        assert await AuditEntry.all().count() == 0

    async def test_owner_cannot_lock_self_out(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner", "olivia")
        me = await Operator.get(username="olivia")
        response = await client.patch(
            f"/admin/api/v1/operators/{me.id}", json={"active": False}, headers=headers
        )
        assert response.status == 409

    async def test_unknown_operator_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("owner")
        for path in ("/admin/api/v1/operators/999", "/admin/api/v1/operators/abc"):
            response = await client.patch(path, json={"active": True}, headers=headers)
            assert response.status == 404
