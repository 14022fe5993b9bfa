"""Evaluation periods of the tier ladder: which months of growth count, and when they are judged.

Growth is kept per member per month ("YYYY-MM", brand time zone). A period is twelve months:
- `calendar_year`: January to December; evaluated on 1 January of the next year;
- `rolling_12_months`: the twelve months ending with the current month; evaluated on the first
  day of every month, over the twelve months that just ended.
The current period decides upgrades at once; a closed period decides retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from wxmember.core.errors import ValidationFailed

PeriodKind = Literal["calendar_year", "rolling_12_months"]


def month_key(day: date) -> str:
    """The growth bucket of a day: "YYYY-MM"."""
    return f"{day.year:04d}-{day.month:02d}"


def _add_months(day: date, months: int) -> date:
    """The first day of the month `months` away from the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _last_day_of_month(day: date) -> date:
    return _add_months(day, 1) - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Twelve months of growth, from `start` to `end` inclusive."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def key(self) -> str:
        """Names the period in evaluation runs and history, e.g. "calendar_year:2025-12-31"."""
        return f"{self.kind}:{self.end.isoformat()}"

    @property
    def first_month(self) -> str:
        return month_key(self.start)

    @property
    def last_month(self) -> str:
        return month_key(self.end)

    @property
    def evaluation_date(self) -> date:
        """The day the period is judged: the day after it ends."""
        return self.end + timedelta(days=1)


def period_ending(kind: PeriodKind, end: date) -> Period:
    """The period of this kind that ends on `end`; a 400 if no period ends that day."""
    if kind == "calendar_year":
        if (end.month, end.day) != (12, 31):
            raise ValidationFailed(
                "A calendar-year period ends on 31 December.", code="invalid_period_end"
            )
        return Period(kind, date(end.year, 1, 1), end)
    if end != _last_day_of_month(end):
        raise ValidationFailed(
            "A rolling 12-month period ends on the last day of a month.",
            code="invalid_period_end",
        )
    return Period(kind, _add_months(end, -11), end)


def current_period(kind: PeriodKind, today: date) -> Period:
    """The period that `today` belongs to: its growth decides upgrades now."""
    if kind == "calendar_year":
        return Period(kind, date(today.year, 1, 1), date(today.year, 12, 31))
    return Period(kind, _add_months(today, -11), _last_day_of_month(today))


def last_closed_period(kind: PeriodKind, today: date) -> Period:
    """The latest period that ended before `today`: the one due for evaluation."""
    if kind == "calendar_year":
        return period_ending(kind, date(today.year - 1, 12, 31))
    return period_ending(kind, today.replace(day=1) - timedelta(days=1))
