"""`POST /admin/api/v1/members/{id}/points-adjustments` and the member's ledger for operators."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from tests.factories import create_member
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.points import EntryKind, PointsEntry


def _path(member_id: int | str) -> str:
    return f"/admin/api/v1/members/{member_id}/points-adjustments"


class TestAdjustment:
    async def test_credit_is_audited(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("operator", "olga")
        member = await create_member()
        response = await client.post(
            _path(member.id), json={"amount": 300, "reason": " 补偿积分 "}, headers=headers
        )
        assert response.status == 201
        body = await response.json()
        assert (body["kind"], body["amount"], body["balance_after"]) == ("adjust", 300, 300)
        assert body["reason"] == "补偿积分"
        entry = await PointsEntry.get(id=body["id"])
        assert entry.operator_id == (await AuditEntry.get(action="points.adjust")).operator_id
        audit = await AuditEntry.get(action="points.adjust")
        assert (audit.actor, audit.target_type, audit.target_id) == (
            "olga",
            "member",
            str(member.id),
        )
        assert audit.before == {"points_balance": 0, "points_debt": 0}
        assert audit.after is not None
        assert audit.after["points_balance"] == 300
        assert audit.after["amount"] == 300
        await assert_ledger_consistent(member.id)

    async def test_debit_and_insufficient(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        headers = await login_as("owner")
        member = await create_member()
        await points.earn(services, member.id, 50, reason="r", idempotency_key="e")
        taken = await client.post(
            _path(member.id), json={"amount": -20, "reason": "误发"}, headers=headers
        )
        assert taken.status == 201
        assert (await taken.json())["balance_after"] == 30
        refused = await client.post(
            _path(member.id), json={"amount": -31, "reason": "误发"}, headers=headers
        )
        assert refused.status == 409
        body = await refused.json()
        assert body["error"]["code"] == "insufficient_points"
        assert body["error"]["details"] == {"balance": 30, "needed": 31}
        assert await AuditEntry.filter(action="points.adjust").count() == 1
        await assert_ledger_consistent(member.id)

    async def test_idempotency_key_header(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("operator")
        member = await create_member()
        keyed = headers | {"Idempotency-Key": "adj-2025-0001"}
        first = await client.post(
            _path(member.id), json={"amount": 100, "reason": "活动"}, headers=keyed
        )
        again = await client.post(
            _path(member.id), json={"amount": 100, "reason": "活动"}, headers=keyed
        )
        assert (await first.json())["id"] == (await again.json())["id"]
        assert (await Member.get(id=member.id)).points_balance == 100
        assert await AuditEntry.filter(action="points.adjust").count() == 1
        reused = await client.post(
            _path(member.id), json={"amount": 50, "reason": "活动"}, headers=keyed
        )
        assert reused.status == 409
        assert await error_code(reused) == "idempotency_key_reused"
        unkeyed = [
            await client.post(_path(member.id), json={"amount": 1, "reason": "x"}, headers=headers)
            for _ in range(2)
        ]
        assert [response.status for response in unkeyed] == [201, 201]
        assert (await Member.get(id=member.id)).points_balance == 102

    async def test_concurrent_debits_never_overdraw(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        headers = await login_as("operator")
        member = await create_member()
        await points.earn(services, member.id, 200, reason="r", idempotency_key="e")
        responses = await asyncio.gather(
            *(
                client.post(
                    _path(member.id), json={"amount": -9, "reason": "扣减"}, headers=headers
                )
                for _ in range(50)
            )
        )
        statuses = sorted(response.status for response in responses)
        assert statuses == [201] * 22 + [409] * 28
        account = await assert_ledger_consistent(member.id)
        assert account.points_balance == 2
        assert await PointsEntry.filter(kind=EntryKind.ADJUST).count() == 22

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"amount": 0, "reason": "x"}, "invalid_amount"),
            ({"amount": 1_000_001, "reason": "x"}, "invalid_amount"),
            ({"amount": -1_000_001, "reason": "x"}, "invalid_amount"),
            ({"amount": "5", "reason": "x"}, "invalid_amount"),
            ({"amount": 1.5, "reason": "x"}, "invalid_amount"),
            ({"amount": 5, "reason": "   "}, "invalid_reason"),
            ({"amount": 5, "reason": "x" * 201}, "invalid_reason"),
            ({"amount": 5}, "invalid_reason"),
            ({"amount": 5, "reason": "x", "extra": 1}, "invalid_extra"),
        ],
    )
    async def test_bad_body(
        self, client: TestClient, login_as: Any, body: dict[str, Any], code: str
    ) -> None:
        headers = await login_as("operator")
        member = await create_member()
        response = await client.post(_path(member.id), json=body, headers=headers)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_bad_idempotency_key(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("operator") | {"Idempotency-Key": "has spaces"}
        member = await create_member()
        response = await client.post(
            _path(member.id), json={"amount": 5, "reason": "x"}, headers=headers
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_idempotency_key"

    async def test_unknown_member(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("operator")
        for member_id in (999, "abc"):
            response = await client.post(
                _path(member_id), json={"amount": 5, "reason": "x"}, headers=headers
            )
            assert response.status == 404
        response = await client.post(_path(999), json={"amount": 5, "reason": "x"}, headers=headers)
        assert await error_code(response) == "member_not_found"

    async def test_cashier_may_not_adjust(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        response = await client.post(
            _path(member.id), json={"amount": 5, "reason": "x"}, headers=headers
        )
        assert response.status == 403


class TestMemberLedgerForOperators:
    async def test_lists_the_members_entries(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        headers = await login_as("operator")
        member = await create_member()
        await points.earn(services, member.id, 5, reason="r", idempotency_key="e1")
        await points.earn(services, member.id, 6, reason="r", idempotency_key="e2")
        response = await client.get(
            f"/admin/api/v1/members/{member.id}/points-ledger?limit=1", headers=headers
        )
        body = await response.json()
        assert [item["amount"] for item in body["items"]] == [6]
        assert body["next_cursor"]
        missing = await client.get("/admin/api/v1/members/999/points-ledger", headers=headers)
        assert missing.status == 404
        assert await error_code(missing) == "member_not_found"
