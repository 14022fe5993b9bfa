"""Operator login, roles, rate limits and the audit log."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from handlers.operators.accounts import create_operator
from tests.support.http import bearer, error_code
from wxmember.core.models import AuditEntry, Operator, Role
from wxmember.core.security import verify_password

PASSWORD = "correct-horse-battery"


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

    async def test_rate_limited_per_username(self, client: TestClient) -> None:
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
        self, client: TestClient, login_as, role: str, path: str, expected: int
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
        self, client: TestClient, services
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
    async def test_create_is_audited(self, client: TestClient, login_as) -> None:
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
        assert entry.after["username"] == "cash1"
        assert "password_hash" not in entry.after
        assert entry.request_id == "req-create-cash1"
        log = await client.get("/admin/api/v1/audit-log", headers=headers)
        assert (await log.json())["items"][0]["action"] == "operator.create"

    async def test_update_revokes_tokens_and_records_before_after(
        self, client: TestClient, login_as
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
        assert entry.before["role"] == "cashier"
        assert entry.after["role"] == "operator"

    async def test_duplicate_username_is_409(self, client: TestClient, login_as) -> None:
        headers = await login_as("owner", "olivia")
        response = await client.post(
            "/admin/api/v1/operators",
            json={"username": "olivia", "password": "long-enough-pass", "role": "cashier"},
            headers=headers,
        )
        assert response.status == 409
        assert await error_code(response) == "username_taken"

    async def test_weak_password_and_bad_role(self, client: TestClient, login_as) -> None:
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

    async def test_owner_cannot_lock_self_out(self, client: TestClient, login_as) -> None:
        headers = await login_as("owner", "olivia")
        me = await Operator.get(username="olivia")
        response = await client.patch(
            f"/admin/api/v1/operators/{me.id}", json={"active": False}, headers=headers
        )
        assert response.status == 409

    async def test_unknown_operator_is_404(self, client: TestClient, login_as) -> None:
        headers = await login_as("owner")
        for path in ("/admin/api/v1/operators/999", "/admin/api/v1/operators/abc"):
            response = await client.patch(path, json={"active": True}, headers=headers)
            assert response.status == 404
