"""The retention horizon of reminder deliveries: which rows may go, and which days may still run.

A delivery row is the record of a reminder and also what makes it go out once: its unique key
(rule, member, occasion) is claimed before sending, and a second claim of the same occasion
finds it. So a row may be deleted only when no run can ever claim its occasion again.

A run claims the occasions of a send day `D` whose target day is `D + days_before`
(handlers/reminders/candidates.py): the scheduler's send day is always today, and
`run_rule` (`wxmember run-reminders`) takes any day. With the lifetime `L` days
(`retention.reminder_deliveries_days`) the horizon is the local day `today - L`, and:

- a row goes only when the last day its occasion could be targeted lies before the horizon:
  `points:<day>` that day; `birthday:<year>` the year's 31 December (any rule, whatever its
  `days_before`, targets that year's birthday only on days of that year); `coupon:<id>` the
  coupon's last day, at most `MAX_DAYS_BEFORE` after the row's send day (`valid_until` never
  changes), and only rows in a final state (sent, skipped, failed);
- `run_rule` refuses a send day before the horizon, so every target it claims is on or after
  the horizon, where no pruned occasion lies.

An occasion of any other form is never pruned. `L = 0` keeps every row and runs any day.
"""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.expressions import Q

from handlers.reminders.rules import DAYS_BEFORE
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import FINAL_STATES

MAX_DAYS_BEFORE = max(high for _, high in DAYS_BEFORE.values())


def horizon(services: Services) -> date | None:
    """The first local day whose occasions are kept; None when deliveries are kept for ever."""
    days = services.config.retention.reminder_deliveries_days
    if days == 0:
        return None
    return local_today(services) - timedelta(days=days)


def prunable(first_kept: date) -> Q:
    """Deliveries whose occasion lies wholly before `first_kept` and can never be claimed again."""
    coupon_sent_before = first_kept - timedelta(days=MAX_DAYS_BEFORE)
    occasion_over = (
        Q(occasion__startswith="points:", occasion__lt=f"points:{first_kept.isoformat()}")
        | Q(occasion__startswith="birthday:", occasion__lt=f"birthday:{first_kept.year:04d}")
        | Q(occasion__startswith="coupon:", day__lt=coupon_sent_before)
    )
    # Every target day is on or after its send day: the `day` bound lets the index narrow.
    return Q(occasion_over, day__lt=first_kept, state__in=list(FINAL_STATES))


def check_runnable(services: Services, day: date) -> None:
    """Refuse a send day whose occasions retention may have pruned (they could go out again)."""
    first_kept = horizon(services)
    if first_kept is not None and day < first_kept:
        raise ValidationFailed(
            f"date: deliveries before {first_kept.isoformat()} may have been pruned"
            " (retention.reminder_deliveries_days); a rule runs for that day or later.",
            code="day_before_retention",
        )
