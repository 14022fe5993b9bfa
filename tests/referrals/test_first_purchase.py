"""Rewards paid at the invitee's first purchase: nothing before it, once at it, never again."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.referrals.kit import invitee, referral_settings, referrer
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.referrals import Referral, ReferralReward

PURCHASES = "/admin/api/v1/pos/purchases"


async def _buy(client: TestClient, headers: dict[str, str], member_id: int, order_no: str) -> int:
    body = {"member_id": member_id, "order_no": order_no, "amount_fen": 5000}
    response = await client.post(PURCHASES, json=body, headers=headers)
    return response.status


async def _referral_points(member_id: int) -> list[int]:
    entries = PointsEntry.filter(member_id=member_id, reason="referral").order_by("id")
    return [entry.amount for entry in await entries]


class TestRewardAtFirstPurchase:
    async def test_rewards_wait_for_the_first_purchase_and_are_paid_at_it(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings(reward_on="first_purchase")
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        referral = await Referral.get(invitee_id=newcomer.id)
        assert referral.status == "pending"
        rewards = ReferralReward.filter(referral_id=referral.id)
        assert set(await rewards.values_list("state", flat=True)) == {"pending"}
        assert await _referral_points(friend.id) == []
        assert await _referral_points(newcomer.id) == []

        cashier = await login_as("cashier")
        assert await _buy(client, cashier, newcomer.id, "NO-1") == 201
        await referral.refresh_from_db()
        assert (referral.status, referral.rewarded_at is not None) == ("rewarded", True)
        assert set(await rewards.values_list("state", flat=True)) == {"paid"}
        assert await _referral_points(friend.id) == [100]
        assert await _referral_points(newcomer.id) == [50]
        await assert_ledger_consistent(friend.id)
        await assert_ledger_consistent(newcomer.id)

    async def test_later_purchases_and_retries_pay_nothing_more(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings(reward_on="first_purchase")
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        cashier = await login_as("cashier")
        assert await _buy(client, cashier, newcomer.id, "NO-1") == 201
        assert await _buy(client, cashier, newcomer.id, "NO-1") == 200  # the same order again
        assert await _buy(client, cashier, newcomer.id, "NO-2") == 201
        assert await _referral_points(friend.id) == [100]
        assert await _referral_points(newcomer.id) == [50]

    async def test_concurrent_first_purchases_pay_once(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings(reward_on="first_purchase")
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        cashier = await login_as("cashier")
        statuses = await asyncio.gather(
            *(_buy(client, cashier, newcomer.id, f"NO-{n}") for n in range(6))
        )
        assert statuses == [201] * 6
        assert await _referral_points(friend.id) == [100]
        assert await _referral_points(newcomer.id) == [50]
        await assert_ledger_consistent(friend.id)
        await assert_ledger_consistent(newcomer.id)

    async def test_the_referrers_purchase_pays_nothing(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings(reward_on="first_purchase")
        friend, code = await referrer(services)
        await invitee(client, fake_wechat, "o-new", code)
        cashier = await login_as("cashier")
        assert await _buy(client, cashier, friend.id, "NO-1") == 201
        assert await PointsEntry.filter(reason="referral").count() == 0
        assert await Referral.filter(status="pending").count() == 1
