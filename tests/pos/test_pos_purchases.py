"""`POST /admin/api/v1/pos/purchases`: points and growth for a till receipt, once per order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from tests.factories import create_member
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member, Tier
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.pos import Purchase
from wxmember.core.models.stores import Store

URL = "/admin/api/v1/pos/purchases"


def _body(member_id: int, order_no: str = "NO-0001", amount_fen: int = 12_345) -> dict[str, Any]:
    return {"member_id": member_id, "order_no": order_no, "amount_fen": amount_fen}


class TestPurchase:
    async def test_earns_points_and_growth(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier", "cathy")
        member = await create_member()
        now = datetime.now(UTC)
        await Store.create(code="静安店", name="静安店", created_at=now, updated_at=now)
        response = await client.post(
            URL, json=_body(member.id) | {"store": "静安店"}, headers=headers
        )
        assert response.status == 201
        body = await response.json()
        assert (body["points"], body["growth"], body["multiplier_percent"]) == (123, 123, 100)
        assert (body["balance"], body["store"], body["replayed"]) == (123, "静安店", False)
        entry = await PointsEntry.get(member_id=member.id)
        assert (entry.reason, entry.reference, entry.idempotency_key) == (
            "purchase",
            "order:NO-0001",
            "purchase:NO-0001",
        )
        assert (await Member.get(id=member.id)).growth_total == 123
        audit = await AuditEntry.get(action="pos.purchase")
        assert audit.after is not None
        assert (audit.actor, audit.after["order_no"]) == ("cathy", "NO-0001")
        await assert_ledger_consistent(member.id)

    async def test_tier_multiplier_and_points_per_yuan(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        services.config = services.config.replace(points={"points_per_yuan": 2})
        headers = await login_as("cashier")
        member = await create_member()
        member.tier = await Tier.create(name="金卡", level=2, multiplier_percent=150)
        await member.save(update_fields=["tier_id"])
        body = await (await client.post(URL, json=_body(member.id), headers=headers)).json()
        assert (body["points"], body["multiplier_percent"]) == (123 * 2 * 150 // 100, 150)

    async def test_a_retry_returns_the_first_result(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        first = await client.post(URL, json=_body(member.id), headers=headers)
        again = await client.post(URL, json=_body(member.id), headers=headers)
        assert (first.status, again.status) == (201, 200)
        first_body, again_body = await first.json(), await again.json()
        assert again_body["replayed"] is True
        assert {k: v for k, v in again_body.items() if k != "replayed"} == {
            k: v for k, v in first_body.items() if k != "replayed"
        }
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        assert await AuditEntry.filter(action="pos.purchase").count() == 1

    async def test_ten_concurrent_retries_credit_once(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        responses = await asyncio.gather(
            *(client.post(URL, json=_body(member.id), headers=headers) for _ in range(10))
        )
        assert sorted(response.status for response in responses) == [200] * 9 + [201]
        assert {(await response.json())["points"] for response in responses} == {123}
        assert await Purchase.all().count() == 1
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        account = await assert_ledger_consistent(member.id)
        assert (account.points_balance, account.growth_total) == (123, 123)

    async def test_order_number_reused(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        other = await create_member()
        await client.post(URL, json=_body(member.id), headers=headers)
        for body in (_body(member.id, amount_fen=999), _body(other.id)):
            response = await client.post(URL, json=body, headers=headers)
            assert response.status == 409
            assert await error_code(response) == "order_no_reused"
        assert (await Member.get(id=other.id)).points_balance == 0

    async def test_below_one_yuan_earns_nothing(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        response = await client.post(URL, json=_body(member.id, amount_fen=99), headers=headers)
        assert response.status == 201
        assert (await response.json())["points"] == 0
        assert not await PointsEntry.exists(member_id=member.id)

    async def test_settles_points_debt_first(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        await points.take_back(services, member.id, 50, reason="refund", idempotency_key="t")
        body = await (await client.post(URL, json=_body(member.id), headers=headers)).json()
        assert (body["points"], body["balance"], body["debt"]) == (123, 73, 0)
        await assert_ledger_consistent(member.id)

    async def test_unknown_or_cardless_member(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        missing = await client.post(URL, json=_body(4040), headers=headers)
        assert missing.status == 404
        assert await error_code(missing) == "member_not_found"
        cardless = await create_member(with_card=False)
        response = await client.post(URL, json=_body(cardless.id), headers=headers)
        assert response.status == 409
        assert await error_code(response) == "card_required"
        assert not await Purchase.exists()

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"amount_fen": 0}, "invalid_amount_fen"),
            ({"amount_fen": -100}, "invalid_amount_fen"),
            ({"amount_fen": "100"}, "invalid_amount_fen"),
            ({"amount_fen": 1.5}, "invalid_amount_fen"),
            ({"amount_fen": 100_000_001}, "invalid_amount_fen"),
            ({"order_no": ""}, "invalid_order_no"),
            ({"order_no": "has space"}, "invalid_order_no"),
            ({"order_no": "x" * 49}, "invalid_order_no"),
            ({"member_id": 0}, "invalid_member_id"),
            ({"member_id": "7"}, "invalid_member_id"),
            ({"store": "s" * 65}, "invalid_store"),
            ({"coupon": "x"}, "invalid_coupon"),
        ],
    )
    async def test_bad_body(
        self, client: TestClient, login_as: Any, change: dict[str, Any], code: str
    ) -> None:
        headers = await login_as("cashier")
        member = await create_member()
        response = await client.post(URL, json=_body(member.id) | change, headers=headers)
        assert response.status == 400
        assert await error_code(response) == code

    @pytest.mark.parametrize(("role", "status"), [("owner", 201), ("operator", 201)])
    async def test_staff_roles(
        self, client: TestClient, login_as: Any, role: str, status: int
    ) -> None:
        member = await create_member()
        response = await client.post(URL, json=_body(member.id), headers=await login_as(role))
        assert response.status == status

    async def test_needs_a_login(self, client: TestClient) -> None:
        member = await create_member()
        response = await client.post(URL, json=_body(member.id))
        assert response.status == 401
