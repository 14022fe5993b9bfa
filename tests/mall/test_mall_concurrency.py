"""Redemptions under concurrency: no overselling, no points lost, one order per request."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import ClientResponse

from tests.mall.kit import MallKit, balance
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.mall import ItemKind, MallCode, MallItem, MallOrder
from wxmember.core.models.points import EntryKind, PointsEntry


async def outcomes(responses: list[ClientResponse]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for response in responses:
        seen[str(response.status) if response.status < 400 else await error_code(response)] += 1
    return seen


class TestManyMembersOneItem:
    async def test_hundred_members_for_ten_coupons(self, mall: MallKit) -> None:
        shoppers = [await mall.shopper(500) for _ in range(100)]
        item = await mall.item(kind=ItemKind.COUPON, points_price=300, stock=10)
        responses = await asyncio.gather(*(mall.redeem(s, item.id) for s in shoppers))
        assert await outcomes(responses) == Counter({"201": 10, "sold_out": 90})
        fresh = await MallItem.get(id=item.id)
        assert (fresh.stock, fresh.sold) == (0, 10)
        assert await MallOrder.all().count() == 10
        assert await Coupon.all().count() == 10
        winners = {o.member_id for o in await MallOrder.all()}
        for shopper in shoppers:
            expected = 200 if shopper.id in winners else 500
            assert await balance(shopper.id) == expected
            await assert_ledger_consistent(shopper.id)
        spent = await PointsEntry.filter(kind=EntryKind.SPEND).values_list("amount", flat=True)
        assert sorted(spent) == [-300] * 10

    async def test_codes_go_to_one_member_each(self, mall: MallKit) -> None:
        shoppers = [await mall.shopper(500) for _ in range(30)]
        item = await mall.virtual_item([f"CODE-{n}" for n in range(8)], points_price=100)
        responses = await asyncio.gather(*(mall.redeem(s, item.id) for s in shoppers))
        assert await outcomes(responses) == Counter({"201": 8, "sold_out": 22})
        handed = [
            code
            for response in responses
            if response.status == 201
            for code in (await response.json())["codes"]
        ]
        assert sorted(handed) == sorted(f"CODE-{n}" for n in range(8))
        assert not await MallCode.filter(item_id=item.id, order_id=None).exists()
        assert (await MallItem.get(id=item.id)).stock == 0
        for shopper in shoppers:
            await assert_ledger_consistent(shopper.id)


class TestOneMemberManyRequests:
    async def test_points_for_one_buy_one(self, mall: MallKit) -> None:
        shopper = await mall.shopper(300)
        item = await mall.item(kind=ItemKind.COUPON, points_price=300, stock=50)
        responses = await asyncio.gather(*(mall.redeem(shopper, item.id) for _ in range(10)))
        assert await outcomes(responses) == Counter({"201": 1, "insufficient_points": 9})
        assert await balance(shopper.id) == 0
        assert (await MallItem.get(id=item.id)).stock == 49
        assert await MallOrder.filter(member_id=shopper.id).count() == 1
        await assert_ledger_consistent(shopper.id)

    async def test_limit_holds_under_concurrency(self, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        item = await mall.item(kind=ItemKind.COUPON, points_price=10, stock=50, limit_count=3)
        responses = await asyncio.gather(*(mall.redeem(shopper, item.id) for _ in range(10)))
        assert await outcomes(responses) == Counter({"201": 3, "limit_reached": 7})
        assert await balance(shopper.id) == 10_000 - 30
        await assert_ledger_consistent(shopper.id)

    async def test_one_request_retried_at_once_is_one_order(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, points_price=100, stock=50)
        responses = await asyncio.gather(
            *(mall.redeem(shopper, item.id, key="one-request-1") for _ in range(10))
        )
        assert sorted(r.status for r in responses) == [200] * 9 + [201]
        bodies = [await r.json() for r in responses]
        assert all(body == bodies[0] for body in bodies)
        assert await MallOrder.filter(member_id=shopper.id).count() == 1
        assert await Coupon.filter(member_id=shopper.id).count() == 1
        assert await balance(shopper.id) == 900
        assert (await MallItem.get(id=item.id)).stock == 49
        await assert_ledger_consistent(shopper.id)
