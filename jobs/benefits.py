"""Tier benefit jobs: the birthday gift on the local birthday, the coupons of each local month.

Both run hourly: the first run after local midnight pays the day's birthdays (later runs that
day find only members who reached a tier meanwhile) and the first run of a month pays its
coupons (later runs cost one query). Correctness does not rest on the leader lease: the grant
rows' unique key pays once whatever runs, two schedulers or a re-run.
"""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger

from handlers.benefits import pay_birthday_gifts, pay_monthly_coupons
from jobs.base import JobContext, job
from wxmember.core.config import Config

log = logging.getLogger(__name__)


def hourly_at_25(config: Config) -> CronTrigger:
    return CronTrigger(minute=25, timezone=config.brand.tz)


def hourly_at_35(config: Config) -> CronTrigger:
    return CronTrigger(minute=35, timezone=config.brand.tz)


@job(id="benefits.birthday", trigger=hourly_at_25, coalesce=True, max_instances=1)
async def pay_tier_birthday_gifts(ctx: JobContext) -> None:
    """Pay today's tier birthday gifts (once per member and year)."""
    report = await pay_birthday_gifts(ctx.services, should_stop=ctx.should_stop)
    if report.claimed or report.outcomes:
        log.info("tier birthday gifts paid", extra=report.as_dict())


@job(id="benefits.monthly", trigger=hourly_at_35, coalesce=True, max_instances=1)
async def pay_tier_monthly_coupons(ctx: JobContext) -> None:
    """Pay this month's tier coupons (once per member and month; resumable)."""
    report = await pay_monthly_coupons(ctx.services, should_stop=ctx.should_stop)
    if report.claimed or report.outcomes:
        log.info("tier monthly coupons paid", extra=report.as_dict())
