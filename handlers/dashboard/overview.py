"""The dashboard as staff read it: today live, the last N days from the stored figures.

`period(services, days)` gives one entry per local day of the period, oldest first, today last
(computed live); a day no stored row holds (before the first member, or before the job first
ran) is None, so charts show a gap rather than a false zero. `table(period, series)` lays a
series out as rows of numbers per day, the same numbers for a chart and for its CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from handlers.dashboard.days import figures_of
from wxmember.core.context import Services
from wxmember.core.db import reports
from wxmember.core.localtime import local_today
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.dashboard import DashboardDay
from wxmember.core.models.reminders import DeliveryState
from wxmember.core.models.tiers import Tier

PERIODS = (30, 90)

# The per-day series of the dashboard and their columns (DashboardDay fields), in chart order.
SERIES: dict[str, tuple[str, ...]] = {
    "members": ("members", "new_cards"),
    "active": ("active_members",),
    "checkins": ("checkins",),
    "points": ("points_issued", "points_spent", "points_expired"),
    "liability": ("points_liability",),
    "coupons": ("coupons_claimed", "coupons_redeemed"),
    "mall": ("mall_redemptions",),
    "tiers": (),  # one column per tier, see `tier_columns`
    "reminders": tuple(state.value for state in DeliveryState),
    "followers": ("followers", "new_followers", "unfollows"),
}
# Flows summed over a period (stocks are read at its end).
FLOW_TOTALS = (
    "new_cards",
    "checkins",
    "points_issued",
    "points_spent",
    "points_expired",
    "coupons_claimed",
    "coupons_redeemed",
    "mall_redemptions",
    "new_followers",
)


@dataclass(frozen=True)
class TemplateUse:
    """A coupon template's coupons handed out and redeemed in a period, and the rate."""

    template_id: int
    title: str
    claimed: int
    redeemed: int

    @property
    def rate(self) -> float | None:
        """Redeemed per coupon handed out in the period (None when none was handed out)."""
        return self.redeemed / self.claimed if self.claimed else None


@dataclass
class Period:
    """The days of a period, oldest first (today last), and what their figures refer to."""

    days: list[date]
    figures: list[DashboardDay | None]
    tiers: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, colour), by level
    templates: list[TemplateUse] = field(default_factory=list)

    @property
    def today(self) -> DashboardDay:
        today = self.figures[-1]
        assert today is not None  # today is always computed
        return today

    def totals(self) -> dict[str, int]:
        """The flows summed over the period's days."""
        known = [day for day in self.figures if day is not None]
        return {name: sum(int(getattr(day, name)) for day in known) for name in FLOW_TOTALS}


def check_period(days: int) -> int:
    """A period length the dashboard offers (30 or 90 days); anything else is 30."""
    return days if days in PERIODS else PERIODS[0]


async def today_figures(services: Services) -> DashboardDay:
    """Today's figures, live (unsaved), read from the replica when there is one."""
    with reports():
        return await figures_of(services, local_today(services))


async def period(services: Services, days: int) -> Period:
    """The last `days` days up to today: stored figures, and today's live; read from the
    replica when there is one."""
    with reports():
        return await _period(services, days)


async def _period(services: Services, days: int) -> Period:
    today = local_today(services)
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    stored = {row.day: row for row in await DashboardDay.filter(day__gte=dates[0], day__lt=today)}
    rows: list[DashboardDay | None] = [stored.get(day) for day in dates[:-1]]
    rows.append(await figures_of(services, today))
    found = Period(dates, rows)
    found.tiers = await _tier_names(rows)
    found.templates = await _template_use(rows)
    return found


async def _tier_names(rows: list[DashboardDay | None]) -> list[tuple[str, str, str]]:
    """Every tier of the ladder, and any tier the period counted that has been deleted since."""
    ladder = await Tier.all().order_by("level")
    tiers = [(str(tier.id), tier.name, tier.color) for tier in ladder]
    known = {key for key, _, _ in tiers}
    counted = sorted({key for row in rows if row is not None for key in row.tiers} - known)
    return tiers + [(key, f"#{key}", "") for key in counted]


async def _template_use(rows: list[DashboardDay | None]) -> list[TemplateUse]:
    counts: dict[int, list[int]] = {}
    for row in rows:
        for key, (claimed, redeemed) in (row.coupons if row is not None else {}).items():
            total = counts.setdefault(int(key), [0, 0])
            total[0] += claimed
            total[1] += redeemed
    titles = dict(await CouponTemplate.filter(id__in=list(counts)).values_list("id", "title"))
    uses = [
        TemplateUse(
            template_id, str(titles.get(template_id, f"#{template_id}")), *counts[template_id]
        )
        for template_id in counts
    ]
    return sorted(uses, key=lambda use: (-use.claimed, use.template_id))


@dataclass(frozen=True)
class Table:
    """A series as a table: column keys (`day` first) and one row of numbers per day."""

    columns: list[str]
    rows: list[list[Any]]


def _cell(row: DashboardDay | None, read: Callable[[DashboardDay], int]) -> int | None:
    return None if row is None else read(row)


def tier_columns(found: Period) -> list[str]:
    """The tier series' columns: tier ids (names are in `found.tiers`)."""
    return [key for key, _, _ in found.tiers]


def table(found: Period, series: str) -> Table:
    """The numbers of one series per day of the period; KeyError for an unknown series."""
    if series == "tiers":
        columns = tier_columns(found)
        readers = [_tier_reader(key) for key in columns]
    elif series == "reminders":
        columns = list(SERIES[series])
        readers = [_reminder_reader(state) for state in columns]
    else:
        columns = list(SERIES[series])
        readers = [_field_reader(name) for name in columns]
    rows = [
        [day.isoformat(), *(_cell(row, read) for read in readers)]
        for day, row in zip(found.days, found.figures, strict=True)
    ]
    return Table(["day", *columns], rows)


def _field_reader(name: str) -> Callable[[DashboardDay], int]:
    return lambda row: int(getattr(row, name))


def _tier_reader(key: str) -> Callable[[DashboardDay], int]:
    return lambda row: int(row.tiers.get(key, 0))


def _reminder_reader(state: str) -> Callable[[DashboardDay], int]:
    return lambda row: int(row.reminders.get(state, 0))
