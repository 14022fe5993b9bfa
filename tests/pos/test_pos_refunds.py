"""`POST /admin/api/v1/pos/refunds`: take back a refunded purchase's points and growth."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from tests.factories import create_member
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot
from wxmember.core.models.pos import Purchase, PurchaseRefund

PURCHASES = "/admin/api/v1/pos/purchases"
URL = "/admin/api/v1/pos/refunds"


async def _purchase(
    client: TestClient, headers: dict[str, str], member_id: int, amount_fen: int = 10_000
) -> None:
    response = await client.post(
        PURCHASES,
        json={"member_id": member_id, "order_no": "NO-1", "amount_fen": amount_fen},
        headers=headers,
    )
    assert response.status == 201


def _refund(refund_no: str, amount_fen: int, order_no: str = "NO-1") -> dict[str, Any]:
    return {"order_no": order_no, "refund_no": refund_no, "amount_fen": amount_fen}


class TestRefund:
    async def test_partial_refunds_add_up_to_the_purchase(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("cashier", "cathy")
        member = await create_member()
        await _purchase(client, headers, member.id)
        taken = []
        for n, amount in enumerate((3_333, 3_333, 3_334)):
            response = await client.post(URL, json=_refund(f"R{n}", amount), headers=headers)
            assert response.status == 201
            body = await response.json()
            taken.append((body["points_taken_back"], body["growth_taken_back"]))
        assert taken == [(33, 33), (33, 33), (34, 34)]
        assert (body["refunded_fen"], body["refundable_fen"], body["balance"]) == (10_000, 0, 0)
        account = await assert_ledger_consistent(member.id)
        assert (account.points_balance, account.growth_total) == (0, 0)
        purchase = await Purchase.get(order_no="NO-1")
        assert (purchase.points_taken_back, purchase.growth_taken_back) == (100, 100)
        audit = await AuditEntry.filter(action="pos.refund").order_by("id").first()
        assert audit is not None and audit.actor == "cathy"
        assert audit.before is not None and audit.after is not None
        assert (audit.before["refunded_fen"], audit.after["refunded_fen"]) == (0, 3_333)

    async def test_refunds_never_exceed_the_purchase(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        await _purchase(client, headers, member.id)
        too_much = await client.post(URL, json=_refund("R1", 10_001), headers=headers)
        assert too_much.status == 409
        error = (await too_much.json())["error"]
        assert (error["code"], error["details"]) == (
            "refund_exceeds_purchase",
            {"refundable_fen": 10_000},
        )
        await client.post(URL, json=_refund("R2", 6_000), headers=headers)
        rest = await client.post(URL, json=_refund("R3", 4_001), headers=headers)
        assert await error_code(rest) == "refund_exceeds_purchase"
        assert (await Purchase.get(order_no="NO-1")).refunded_fen == 6_000

    async def test_once_per_refund_number(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        await _purchase(client, headers, member.id)
        first = await client.post(URL, json=_refund("R1", 5_000), headers=headers)
        again = await client.post(URL, json=_refund("R1", 5_000), headers=headers)
        assert (first.status, again.status) == (201, 200)
        assert (await again.json())["replayed"] is True
        reused = await client.post(URL, json=_refund("R1", 4_000), headers=headers)
        assert reused.status == 409
        assert await error_code(reused) == "refund_no_reused"
        assert (await Member.get(id=member.id)).points_balance == 50

    async def test_concurrent_retries_refund_once(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        await _purchase(client, headers, member.id)
        responses = await asyncio.gather(
            *(client.post(URL, json=_refund("R1", 4_000), headers=headers) for _ in range(10))
        )
        assert sorted(response.status for response in responses) == [200] * 9 + [201]
        assert await PurchaseRefund.all().count() == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 60

    async def test_beyond_the_balance_becomes_debt(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        await _purchase(client, headers, member.id)
        await points.spend(services, member.id, 80, reason="mall", idempotency_key="s")
        response = await client.post(URL, json=_refund("R1", 10_000), headers=headers)
        assert response.status == 201
        body = await response.json()
        assert (body["points_taken_back"], body["points_shortfall"]) == (100, 80)
        assert (body["balance"], body["debt"]) == (0, 80)
        entry = await PointsEntry.get(member_id=member.id, kind=EntryKind.REFUND)
        assert (entry.amount, entry.debt_change) == (-20, 80)
        later = await client.post(
            PURCHASES,
            json={"member_id": member.id, "order_no": "NO-2", "amount_fen": 5_000},
            headers=headers,
        )
        assert ((await later.json())["balance"], (await later.json())["debt"]) == (0, 30)
        await assert_ledger_consistent(member.id)

    async def test_beyond_the_balance_refused_by_config(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        services.config = services.config.replace(points={"refund_shortfall": "refuse"})
        headers = await login_as("cashier")
        member = await create_member()
        await _purchase(client, headers, member.id)
        await points.spend(services, member.id, 80, reason="mall", idempotency_key="s")
        response = await client.post(URL, json=_refund("R1", 10_000), headers=headers)
        assert response.status == 409
        assert await error_code(response) == "insufficient_points"
        purchase = await Purchase.get(order_no="NO-1")
        assert (purchase.refunded_fen, purchase.points_taken_back) == (0, 0)
        assert not await PurchaseRefund.exists()
        assert (await Member.get(id=member.id)).growth_total == 100
        fits = await client.post(URL, json=_refund("R2", 2_000), headers=headers)
        assert fits.status == 201
        await assert_ledger_consistent(member.id)

    async def test_takes_the_purchase_points_first(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        freeze(services, local(2025, 3, 1, 9, 0))
        headers = await login_as("cashier")
        member = await create_member()
        await points.earn(
            services,
            member.id,
            40,
            reason="gift",
            idempotency_key="gift",
            expires_at=local(2025, 3, 31, 23, 59, 59),
        )
        await _purchase(client, headers, member.id)
        await client.post(URL, json=_refund("R1", 5_000), headers=headers)
        lots = await PointsLot.filter(member_id=member.id).order_by("id")
        assert [(lot.amount, lot.remaining) for lot in lots] == [(40, 40), (100, 50)]

    async def test_unknown_purchase(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        response = await client.post(URL, json=_refund("R1", 100, "NOPE"), headers=headers)
        assert response.status == 404
        assert await error_code(response) == "purchase_not_found"

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"order_no": "NO-1", "amount_fen": 100}, "invalid_refund_no"),
            ({"order_no": "NO-1", "refund_no": "R 1", "amount_fen": 100}, "invalid_refund_no"),
            ({"order_no": "NO-1", "refund_no": "R1", "amount_fen": 0}, "invalid_amount_fen"),
            ({"refund_no": "R1", "amount_fen": 100}, "invalid_order_no"),
        ],
    )
    async def test_bad_body(
        self, client: TestClient, login_as: Any, body: dict[str, Any], code: str
    ) -> None:
        response = await client.post(URL, json=body, headers=await login_as("cashier"))
        assert response.status == 400
        assert await error_code(response) == code
