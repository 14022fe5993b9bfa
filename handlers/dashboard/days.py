"""The daily figures: a day computed, stored (replacing its row), every missing day filled.

A day's stocks (card holders, outstanding points, members per tier) are the last stored day's
plus what changed since, so a day is a few range queries (handlers/dashboard/figures.py);
before any day is stored they are counted from the first record on. Today is computed the same
way, live, and never stored: the scheduled job stores a day once it has ended.

`backfill` stores every missing day from the first member's day to yesterday, in order, one
transaction per day: a run that stops (a crash, a deposed scheduler) keeps the days it
finished, and the next run carries on from there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.transactions import in_transaction

from handlers.dashboard import figures
from wxmember.core.context import Services
from wxmember.core.localtime import local_midnight, local_today
from wxmember.core.models.dashboard import DashboardDay
from wxmember.core.models.tiers import Tier

ShouldStop = Callable[[], Awaitable[bool]]


def day_bounds(services: Services, day: date) -> tuple[datetime, datetime]:
    """The local day as a half-open range of UTC moments `[midnight, next midnight)`."""
    tz = services.config.brand.tz
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)


async def _entry_tier_id() -> int:
    tier = await Tier.all().order_by("level").first()
    return tier.id if tier is not None else 0


async def figures_of(services: Services, day: date) -> DashboardDay:
    """The figures of a local day, unsaved: its changes on top of the last stored day before."""
    start, end = day_bounds(services, day)
    entry = await _entry_tier_id()
    before = await DashboardDay.filter(day__lt=day).order_by("-day").first()
    members, liability, tiers = 0, 0, Counter[str]()
    carried_from = figures.BEGINNING
    if before is not None:
        members, liability = before.members, before.points_liability
        tiers.update(before.tiers)
        carried_from = day_bounds(services, before.day)[1]
    if carried_from < start:  # days in between that no row holds (or none stored yet)
        gap = await figures.carried(carried_from, start, entry)
        members += gap.new_cards - gap.closed_cards
        liability += gap.points_net
        tiers.update(gap.tier_moves)
    found = await figures.changes(start, end, day, entry)
    tiers.update(found.tier_moves)
    return DashboardDay(
        day=day,
        members=members + found.new_cards - found.closed_cards,
        new_cards=found.new_cards,
        closed_cards=found.closed_cards,
        active_members=found.active_members,
        checkins=found.checkins,
        points_issued=found.points_issued,
        points_spent=found.points_spent,
        points_expired=found.points_expired,
        points_net=found.points_net,
        points_liability=liability + found.points_net,
        coupons_claimed=found.coupons_claimed,
        coupons_redeemed=found.coupons_redeemed,
        coupons=found.coupons,
        mall_redemptions=found.mall_redemptions,
        tiers={key: count for key, count in sorted(tiers.items()) if count},
        reminders=found.reminders,
        followers=await figures.followers_at(end),
        new_followers=found.new_followers,
        unfollows=found.unfollows,
        computed_at=services.clock.now(),
    )


async def store_day(services: Services, day: date) -> DashboardDay:
    """Compute a day and store it, replacing the row it had (idempotent)."""
    row = await figures_of(services, day)
    async with in_transaction() as conn:
        await DashboardDay.filter(day=day).using_db(conn).delete()
        await row.save(using_db=conn)
    return row


async def first_day(services: Services) -> date | None:
    """The local day of the first member (or of the earliest stored day), None before any."""
    moment = await figures.first_record()
    days = [] if moment is None else [moment.astimezone(services.config.brand.tz).date()]
    earliest = await DashboardDay.all().order_by("day").first()
    if earliest is not None:
        days.append(earliest.day)
    return min(days) if days else None


@dataclass(frozen=True)
class BackfillReport:
    """What a backfill did: the days it stored, and whether it stopped before the end."""

    stored: int
    first: date | None
    last: date | None
    stopped: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "stopped": self.stopped,
        }


async def backfill(
    services: Services, *, until: date | None = None, should_stop: ShouldStop | None = None
) -> BackfillReport:
    """Store every missing day from the first member's to `until` (default: yesterday)."""
    last = until or local_today(services) - timedelta(days=1)
    first = await first_day(services)
    if first is None or first > last:
        return BackfillReport(0, None, None)
    stored_days = set(
        await DashboardDay.filter(day__gte=first, day__lte=last).values_list("day", flat=True)
    )
    stored, day, done = 0, first, None
    while day <= last:
        if day not in stored_days:
            if should_stop is not None and await should_stop():
                return BackfillReport(stored, first, done, stopped=True)
            await store_day(services, day)
            stored, done = stored + 1, day
        day += timedelta(days=1)
    return BackfillReport(stored, first, done)
