"""Tiers seen from the till: purchases upgrade at once, the multiplier applies from the next one."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.tiers.conftest import MemberIn
from wxmember.core.models.growth import GrowthEntry
from wxmember.core.models.members import Member
from wxmember.core.models.tiers import Tier

pytestmark = pytest.mark.usefixtures("clock")

PURCHASES = "/admin/api/v1/pos/purchases"


@pytest.fixture
async def cashier(login_as: Any) -> dict[str, str]:
    return await login_as("cashier")


class TestPurchaseThroughTheTill:
    async def test_upgrade_then_the_next_purchase_earns_the_new_multiplier(
        self,
        client: TestClient,
        cashier: dict[str, str],
        member_in: MemberIn,
        ladder: dict[str, Tier],
    ) -> None:
        member = await member_in()
        first = await client.post(
            PURCHASES,
            json={"member_id": member.id, "order_no": "O-1", "amount_fen": 600_000},
            headers=cashier,
        )
        assert first.status == 201, await first.text()
        assert ((await first.json())["multiplier_percent"], (await first.json())["points"]) == (
            100,
            6000,
        )
        stored = await Member.get(id=member.id)
        assert stored.tier_id == ladder["gold"].id
        assert stored.card_version == member.card_version + 1
        second = await client.post(
            PURCHASES,
            json={"member_id": member.id, "order_no": "O-2", "amount_fen": 10_000},
            headers=cashier,
        )
        body = await second.json()
        assert (body["multiplier_percent"], body["points"]) == (125, 125)
        # 6000 + 125 for the purchases, 100 + 300 for reaching silver and gold.
        assert (await Member.get(id=member.id)).points_balance == 6525

    async def test_the_till_shows_the_points_with_the_upgrade_gifts(
        self, client: TestClient, cashier: dict[str, str], member_in: MemberIn
    ) -> None:
        """The balance the till answers is the member's after everything the purchase did,
        the gifts of the tiers it reached included, and a replay answers the same."""
        member = await member_in()
        order = {"member_id": member.id, "order_no": "O-1", "amount_fen": 600_000}
        first = await client.post(PURCHASES, json=order, headers=cashier)
        again = await client.post(PURCHASES, json=order, headers=cashier)
        stored = await Member.get(id=member.id)
        assert stored.points_balance == 6000 + 100 + 300
        for response, replayed in ((first, False), (again, True)):
            body = await response.json()
            assert (body["balance"], body["debt"], body["replayed"]) == (6400, 0, replayed)

    async def test_refund_takes_growth_back_and_keeps_the_tier(
        self,
        client: TestClient,
        cashier: dict[str, str],
        member_in: MemberIn,
        ladder: dict[str, Tier],
    ) -> None:
        member = await member_in()
        await client.post(
            PURCHASES,
            json={"member_id": member.id, "order_no": "O-1", "amount_fen": 600_000},
            headers=cashier,
        )
        refund = await client.post(
            "/admin/api/v1/pos/refunds",
            json={"order_no": "O-1", "refund_no": "R-1", "amount_fen": 300_000},
            headers=cashier,
        )
        assert refund.status == 201, await refund.text()
        stored = await Member.get(id=member.id)
        assert (stored.growth_total, stored.tier_id) == (3000, ladder["gold"].id)
        amounts = (
            await GrowthEntry.filter(member_id=member.id)
            .order_by("id")
            .values_list("amount", flat=True)
        )
        assert amounts == [6000, -3000]
