"""The tier monthly coupons: paid once per local month to every member of a tier having them.

The first run in a local month (brand time zone) starts the month's run (one `benefit_runs`
row per month, by a unique key) and walks members in id order, a batch at a time, from the
run's cursor: a run that is stopped (a deposed leader, a restart) resumes where it was, and
once finished the month costs one query. Members are paid for the tier they hold when their
batch is reached: one who joins a tier later in the month gets its coupons from next month on.

Once per member and month (occasion "2026-05"), whatever runs: the grant row's unique key
decides, and each coupon is issued under its own key. A coupon template that is stopped, sold
out or expired is recorded as a failure of the grant and not retried.
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
from handlers.tiers.ladder import list_tiers
from wxmember.core.context import Services
from wxmember.core.kernel import insert_once
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.benefits import BenefitKind, BenefitRun, BenefitRunStatus

KIND = BenefitKind.MONTHLY_COUPONS


def month_of(day: date) -> str:
    """The occasion of a local day's month: "2026-05"."""
    return f"{day.year:04d}-{day.month:02d}"


async def _month_run(services: Services, occasion: str) -> BenefitRun:
    run = await BenefitRun.get_or_none(kind=KIND, occasion=occasion)
    if run is not None:
        return run
    now = services.clock.now()
    created = await insert_once(
        BenefitRun, None, kind=KIND, occasion=occasion, started_at=now, updated_at=now
    )
    # A concurrent run may have inserted it first: the database keeps one.
    return created or await BenefitRun.get(kind=KIND, occasion=occasion)


async def pay_monthly_coupons(
    services: Services,
    day: date | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    should_stop: ShouldStop | None = None,
) -> BenefitReport:
    """Pay the month's coupons of the month of `day` (default: local today), if not yet done."""
    day = day or local_today(services)
    report = BenefitReport(KIND.value, month_of(day))
    report.outcomes.update(await pay_left_over(services, KIND, should_stop))
    run = await BenefitRun.get_or_none(kind=KIND, occasion=report.occasion)
    if run is not None and run.status == BenefitRunStatus.FINISHED:
        report.status = "already_finished"
        return report
    tiers = tiers_giving(await list_tiers(), KIND)
    if not tiers:
        # No run is started: a benefit added later in the month is paid by a later run.
        report.status = "nothing_to_pay"
        return report
    run = run or await _month_run(services, report.occasion)
    query = Member.filter(deleted_at__isnull=True, tier_id__in=list(tiers))
    cursor = run.cursor
    while True:
        if should_stop is not None and await should_stop():
            report.status = "stopped"
            return report
        members = await pay_next_batch(
            services, KIND, report, day, query, cursor, batch_size, tiers
        )
        now = services.clock.now()
        if members:
            cursor = members[-1].id
            await BenefitRun.filter(id=run.id, cursor__lt=cursor).update(
                cursor=cursor, updated_at=now
            )
        if len(members) < batch_size:
            await BenefitRun.filter(id=run.id, status=BenefitRunStatus.RUNNING).update(
                status=BenefitRunStatus.FINISHED, finished_at=now, updated_at=now
            )
            return report
