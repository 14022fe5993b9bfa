"""A brand's activity for the dashboard tests, written through the handlers at chosen moments.

`Brand` freezes the service's clock and moves it to each moment before acting, so every row
carries the time a member or cashier would have given it. `direct` counts the same figures
straight from the tables with the ORM, to compare with what the dashboard computed.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

from handlers.checkin.daily import check_in
from handlers.coupons.claims import claim
from handlers.coupons.templates import create_template
from handlers.coupons.writeoff import redeem as write_off
from handlers.dashboard import day_bounds
from handlers.followers.links import record_subscribe, record_unsubscribe
from handlers.mall.items import ItemCreate, create_item
from handlers.mall.redemption import Redemption, redeem
from handlers.members.account import delete_account
from handlers.members.cards import open_card
from handlers.members.sessions import member_for_openid
from handlers.operators.accounts import create_operator
from handlers.pos.purchases import record_purchase
from tests.support.localtime import freeze
from wxmember.core.context import Services
from wxmember.core.inputs import validate
from wxmember.core.models import Member, Operator, Role, Tier
from wxmember.core.models.bot import Follower
from wxmember.core.models.checkins import Checkin
from wxmember.core.models.coupons import Coupon, CouponKind, CouponTemplate, Obtain
from wxmember.core.models.mall import ItemKind, MallItem, MallOrder
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.pos import Purchase
from wxmember.core.models.reminders import ReminderDelivery
from wxmember.core.models.tier_history import TierChange

_numbers = itertools.count(1)


class Brand:
    """A small brand whose members act at the moments the test chooses."""

    def __init__(self, services: Services, start: datetime) -> None:
        self.services = services
        self.clock = freeze(services, start)
        self.cashier: Operator
        self.template: CouponTemplate
        self.item: MallItem

    async def open(self) -> Brand:
        """Staff, a silver tier above the entry tier, a claimable coupon, a mall coupon item."""
        owner = await create_operator("dash-owner", "correct-horse-battery", Role.OWNER)
        self.cashier = await create_operator("dash-cashier", "correct-horse-battery", Role.CASHIER)
        await Tier.create(name="银卡", level=1, growth_threshold=500)
        self.template = await create_template(
            self.services,
            owner,
            {
                "title": "满50减10",
                "kind": CouponKind.CASH,
                "value": 1000,
                "threshold_fen": 5000,
                "per_member_limit": 5,
                "valid_days": 30,
            },
        )
        mall_coupon = await create_template(
            self.services,
            owner,
            {
                "title": "兑换券",
                "kind": CouponKind.CASH,
                "value": 500,
                "threshold_fen": 0,
                "valid_days": 30,
                "obtain": Obtain.ISSUED,
            },
        )
        self.item = await create_item(
            owner,
            validate(
                ItemCreate,
                {
                    "title": "兑换券",
                    "kind": ItemKind.COUPON,
                    "coupon_template_id": mall_coupon.id,
                    "points_price": 50,
                    "stock": 100,
                    "active": True,
                },
            ),
        )
        return self

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)

    async def member(self, at: datetime, *, unionid: bool = False) -> Member:
        """Log in and open a card at `at`."""
        self.at(at)
        n = next(_numbers)
        member, _ = await member_for_openid(f"dash-{n}", unionid=f"u-dash-{n}" if unionid else None)
        return await open_card(self.services, member, name="张三", birthday=date(1990, 5, 17))

    async def check_in(self, member: Member, at: datetime) -> None:
        self.at(at)
        await check_in(self.services, member)

    async def purchase(self, member: Member, at: datetime, amount_fen: int) -> None:
        self.at(at)
        order = f"DASH-{next(_numbers):05d}"
        await record_purchase(self.services, self.cashier, member.id, order, amount_fen)

    async def claim(self, member: Member, at: datetime) -> Coupon:
        self.at(at)
        return await claim(self.services, member, self.template.id)

    async def write_off(self, coupon: Coupon, at: datetime) -> None:
        self.at(at)
        order = f"DASH-{next(_numbers):05d}"
        await write_off(
            self.services, self.cashier, coupon.code, order_no=order, order_amount_fen=8000
        )

    async def redeem_item(self, member: Member, at: datetime) -> None:
        self.at(at)
        fresh = await Member.get(id=member.id)
        body = Redemption(item_id=self.item.id)
        await redeem(self.services, fresh, body, f"dash-key-{next(_numbers):05d}")

    async def follow(self, member: Member, at: datetime) -> None:
        self.at(at)
        await record_subscribe(self.services, f"oa-{member.openid}", unionid=member.unionid)

    async def unfollow(self, member: Member, at: datetime) -> None:
        self.at(at)
        await record_unsubscribe(self.services, f"oa-{member.openid}")

    async def delete(self, member: Member, at: datetime) -> None:
        self.at(at)
        await delete_account(self.services, await Member.get(id=member.id))


async def direct(services: Services, day: date) -> dict[str, Any]:
    """The figures of a local day counted straight from the tables, member by member."""
    start, end = day_bounds(services, day)
    span = {"created_at__gte": start, "created_at__lt": end}
    used = {"used_at__gte": start, "used_at__lt": end}
    entries = await PointsEntry.filter(**span).values_list("kind", "amount", "debt_change")
    everything = await PointsEntry.filter(created_at__lt=end).values_list("amount", flat=True)
    active: set[Any] = set()  # tortoise types flat values_list rows as tuples
    active |= set(await Checkin.filter(**span).values_list("member_id", flat=True))
    active |= set(await Purchase.filter(**span).values_list("member_id", flat=True))
    active |= set(await Coupon.filter(source="claim", **span).values_list("member_id", flat=True))
    active |= set(await Coupon.filter(**used).values_list("member_id", flat=True))
    active |= set(await MallOrder.filter(**span).values_list("member_id", flat=True))
    holders = [
        member
        for member in await Member.filter(card_opened_at__lt=end)
        if member.deleted_at is None or member.deleted_at >= end
    ]
    followers = [
        follower
        for follower in await Follower.all()
        if follower.subscribed_at is not None
        and follower.subscribed_at < end
        and (follower.subscribed or (follower.unsubscribed_at or start) >= end)
    ]
    states = await ReminderDelivery.filter(day=day).values_list("state", flat=True)
    entry = await Tier.filter(level=0).first()
    tiers: dict[str, int] = {}
    for member in holders:  # the tier of the last move before the end of the day, else entry
        move = (
            await TierChange.filter(member_id=member.id, created_at__lt=end)
            .order_by("-created_at", "-id")
            .first()
        )
        tier = move.to_tier_id if move is not None else entry.id if entry else None
        tiers[str(tier)] = tiers.get(str(tier), 0) + 1
    return {
        "members": len(holders),
        "new_cards": await Member.filter(card_opened_at__gte=start, card_opened_at__lt=end).count(),
        "active_members": len(active),
        "checkins": await Checkin.filter(**span).count(),
        "points_issued": sum(a - d for k, a, d in entries if k in ("earn", "adjust") and a - d > 0),
        "points_spent": -sum(a for k, a, _ in entries if k == "spend"),
        "points_expired": -sum(a for k, a, _ in entries if k == "expire"),
        "points_liability": sum(everything),
        "coupons_claimed": await Coupon.filter(**span).count(),
        "coupons_redeemed": await Coupon.filter(**used).count(),
        "mall_redemptions": await MallOrder.filter(**span).count(),
        "tiers": tiers,
        "reminders": {str(s): list(map(str, states)).count(str(s)) for s in set(states)},
        "followers": len(followers),
        "new_followers": await Follower.filter(
            subscribed_at__gte=start, subscribed_at__lt=end
        ).count(),
    }


def figures(row: Any) -> dict[str, Any]:
    """The same figures read from a DashboardDay."""
    return {
        "members": row.members,
        "new_cards": row.new_cards,
        "active_members": row.active_members,
        "checkins": row.checkins,
        "points_issued": row.points_issued,
        "points_spent": row.points_spent,
        "points_expired": row.points_expired,
        "points_liability": row.points_liability,
        "coupons_claimed": row.coupons_claimed,
        "coupons_redeemed": row.coupons_redeemed,
        "mall_redemptions": row.mall_redemptions,
        "tiers": row.tiers,
        "reminders": row.reminders,
        "followers": row.followers,
        "new_followers": row.new_followers,
    }
