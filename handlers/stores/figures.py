"""A store's page: the members who opened their cards there, and its figures by local day.

Each day counts, at this store: cards opened (`StoreCardOpening`, see `openings`), purchases
and their money, refunds and their money (a refund counts at the store that refunded, on the
day it did), and coupons written off with the discount they gave. The counts are the records
themselves, live, so they equal a direct count of the same rows; each is one indexed range
query per day (index store, time), at most `max(PERIODS)` days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from wxmember.core.context import Services
from wxmember.core.kernel import continue_after
from wxmember.core.localtime import local_midnight, local_today
from wxmember.core.models.coupons import Coupon, CouponStatus
from wxmember.core.models.pos import Purchase, PurchaseRefund
from wxmember.core.models.stores import Store, StoreCardOpening

PERIODS = (7, 30, 90)


@dataclass
class StoreDay:
    """One local day at one store."""

    day: date
    cards_opened: int = 0
    purchases: int = 0
    purchase_fen: int = 0
    refunds: int = 0
    refund_fen: int = 0
    redemptions: int = 0
    discount_fen: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "cards_opened": self.cards_opened,
            "purchases": self.purchases,
            "purchase_fen": self.purchase_fen,
            "refunds": self.refunds,
            "refund_fen": self.refund_fen,
            "redemptions": self.redemptions,
            "discount_fen": self.discount_fen,
        }


@dataclass
class StorePeriod:
    """The days of a period at a store, oldest first, and their totals."""

    days: list[StoreDay] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        names = [name for name in StoreDay.__dataclass_fields__ if name != "day"]
        return {name: sum(getattr(day, name) for day in self.days) for name in names}


def check_period(days: int) -> int:
    """A period the store page offers (7, 30 or 90 days); anything else is 30."""
    return days if days in PERIODS else 30


async def _count_sum(query: QuerySet[Any], money: str) -> tuple[int, int]:
    rows = await query.annotate(n=Count("id"), total=Sum(money)).values_list("n", "total")
    if not rows:
        return 0, 0
    count, total = rows[0]
    return int(count or 0), int(total or 0)


async def store_day(store: Store, day: date, start: datetime, end: datetime) -> StoreDay:
    """One day's figures at a store, `[start, end)` being its local midnight to the next."""
    found = StoreDay(day)
    found.cards_opened = await StoreCardOpening.filter(
        store_id=store.id, opened_at__gte=start, opened_at__lt=end
    ).count()
    found.purchases, found.purchase_fen = await _count_sum(
        Purchase.filter(store=store.code, created_at__gte=start, created_at__lt=end), "amount_fen"
    )
    found.refunds, found.refund_fen = await _count_sum(
        PurchaseRefund.filter(store=store.code, created_at__gte=start, created_at__lt=end),
        "amount_fen",
    )
    found.redemptions, found.discount_fen = await _count_sum(
        Coupon.filter(
            store=store.code, status=CouponStatus.USED, used_at__gte=start, used_at__lt=end
        ),
        "discount_fen",
    )
    return found


async def store_period(services: Services, store: Store, days: int) -> StorePeriod:
    """The last `days` local days up to today at a store, oldest first."""
    tz = services.config.brand.tz
    today = local_today(services)
    period = StorePeriod()
    for back in range(check_period(days) - 1, -1, -1):
        day = today - timedelta(days=back)
        start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        period.days.append(await store_day(store, day, start, end))
    return period


def opening_view(opening: StoreCardOpening) -> dict[str, Any]:
    """A member who opened their card at the store, as the store page lists them."""
    member = opening.member
    return {
        "member_id": opening.member_id,
        "name": member.name,
        "card_no": member.card_no,
        "source": opening.source.value,
        "opened_at": opening.opened_at.isoformat(),
    }


async def openings(store: Store, after_id: int | None, limit: int) -> list[StoreCardOpening]:
    """The live members who opened their cards at the store, newest first, `limit + 1`."""
    query = (
        StoreCardOpening.filter(store_id=store.id, member__deleted_at__isnull=True)
        .select_related("member")
        .order_by("-id")
    )
    return await continue_after(query, after_id).limit(limit + 1)
