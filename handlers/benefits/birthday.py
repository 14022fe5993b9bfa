"""The tier birthday gift: paid on the member's birthday, local day in the brand's time zone.

Who: members (not deleted) whose birthday is the day (born on 29 February: on 28 February in a
common year), holding on that day a tier with a `birthday_gift` benefit, found through the
(birth_month, birth_day, id) index a page at a time, never by reading every member. Members
without a birthday get none. The gift follows the tier held when the day's run finds the
member: a member who reaches the tier after their birthday gets its gift from next year's
birthday on (and one upgraded during the birthday itself is found by a later run that day).

Once per member and year (occasion "2026", the local year of the birthday), whatever runs: the
grant row's unique key decides. This gift is separate from a reminder rule's birthday gift
(handlers/reminders/gifts.py, key `birthday-gift:{member}:{year}`): a member whose tier has a
gift and who also gets a reminder rule's gift receives both.

Days the scheduler did not run are not caught up by themselves: `wxmember pay-benefits
birthday --date YYYY-MM-DD` pays a missed day.
"""

from __future__ import annotations

from datetime import date

from handlers.benefits.grants import tiers_giving
from handlers.benefits.runs import (
    DEFAULT_BATCH,
    BenefitReport,
    ShouldStop,
    pay_left_over,
    pay_next_batch,
)
from handlers.reminders.candidates import birthdays_on
from handlers.tiers.ladder import list_tiers
from wxmember.core.context import Services
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.benefits import BenefitKind

KIND = BenefitKind.BIRTHDAY_GIFT


async def pay_birthday_gifts(
    services: Services,
    day: date | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    should_stop: ShouldStop | None = None,
) -> BenefitReport:
    """Pay the tier birthday gift of everyone whose birthday is `day` (default: local today)."""
    day = day or local_today(services)
    report = BenefitReport(KIND.value, str(day.year))
    report.outcomes.update(await pay_left_over(services, KIND, should_stop))
    tiers = tiers_giving(await list_tiers(), KIND)
    if not tiers:
        report.status = "nothing_to_pay"
        return report
    month, days = birthdays_on(day)
    query = Member.filter(
        birth_month=month, birth_day__in=days, deleted_at__isnull=True, tier_id__in=list(tiers)
    )
    cursor = 0
    while True:
        if should_stop is not None and await should_stop():
            report.status = "stopped"
            return report
        members = await pay_next_batch(
            services, KIND, report, day, query, cursor, batch_size, tiers
        )
        if len(members) < batch_size:
            return report
        cursor = members[-1].id
