"""Housekeeping jobs: points and coupon expiry, tier retention, the dashboard's daily figures,
the members' RFM scores and segments, the pruning of rows past their lifetime, and the monthly
partitions made ahead.
"""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger
from tortoise.transactions import in_transaction

from handlers.coupons.issuing import mark_expired_coupons
from handlers.dashboard import backfill
from handlers.points.ledger import expire_due_lots
from handlers.retention import prune
from handlers.segments import run_rfm
from handlers.tiers.growth import evaluate_tiers
from jobs.base import JobContext, TriggerFactory, job
from wxmember.core.config import Config
from wxmember.core.localtime import local_today
from wxmember.core.partitioning import ensure_months

log = logging.getLogger(__name__)


def hourly_at(minute: int) -> TriggerFactory:
    def trigger(config: Config) -> CronTrigger:
        return CronTrigger(minute=minute, timezone=config.brand.tz)

    return trigger


def daily_after_midnight(config: Config) -> CronTrigger:
    return CronTrigger(hour=0, minute=30, timezone=config.brand.tz)


def daily_at_one(config: Config) -> CronTrigger:
    return CronTrigger(hour=1, minute=0, timezone=config.brand.tz)


def daily_before_dawn(config: Config) -> CronTrigger:
    return CronTrigger(hour=4, minute=40, timezone=config.brand.tz)


def daily_at_dawn(config: Config) -> CronTrigger:
    return CronTrigger(hour=4, minute=55, timezone=config.brand.tz)


# Points expire at the end of a local day (handlers/points/lots.py); coupons at local midnight.
# Hourly runs keep the balance shown close to the truth; spending expires due lots anyway.
@job(id="points.expire", trigger=hourly_at(5), coalesce=True, max_instances=1)
async def expire_points(ctx: JobContext) -> None:
    """Expire every points lot past its date."""
    expired = await expire_due_lots(ctx.services)
    if expired:
        log.info("points lots expired", extra={"lots": expired})


@job(id="coupons.expire", trigger=hourly_at(10), coalesce=True, max_instances=1)
async def expire_coupons(ctx: JobContext) -> None:
    """Mark unused coupons past their validity as expired."""
    marked = await mark_expired_coupons(ctx.services)
    if marked:
        log.info("coupons marked expired", extra={"coupons": marked})


# Daily rather than only on the 1st: a period is judged on the first day of the next one, or
# on the first day the scheduler runs after it; once judged, a run is one query.
@job(id="tiers.evaluate", trigger=daily_after_midnight, coalesce=True, max_instances=1)
async def evaluate_closed_period(ctx: JobContext) -> None:
    """Judge tier retention for the period that just closed (idempotent, resumable)."""
    report = await evaluate_tiers(ctx.services)
    if report.status != "already_finished":
        log.info("tiers evaluated", extra=report.as_dict())


# Hourly rather than once after midnight: a day is stored within the hour after it ends, and the
# first run after installing (or after the scheduler was down) fills every missing day, one
# committed day at a time, so a run that is stopped resumes where it was.
@job(id="dashboard.days", trigger=hourly_at(15), coalesce=True, max_instances=1)
async def store_dashboard_days(ctx: JobContext) -> None:
    """Store the dashboard figures of every ended day that has none yet."""
    report = await backfill(ctx.services, should_stop=ctx.should_stop)
    if report.stored:
        log.info("dashboard days stored", extra=report.as_dict())


# Once a day, after midnight: a day's scores measure purchases before its local midnight, so
# the run's time of day does not change them. A run already finished does nothing; one that
# was stopped (a deposed leader, a restart) resumes at its cursor on the next start; the first
# run that finishes in a month takes the month's snapshot.
@job(id="rfm.daily", trigger=daily_at_one, coalesce=True, max_instances=1)
async def score_rfm(ctx: JobContext) -> None:
    """Score every card holder's RFM for today (idempotent, resumable)."""
    report = await run_rfm(ctx.services, should_stop=ctx.should_stop)
    if report.status != "already_finished":
        log.info("rfm scored", extra=report.as_dict())


# Before dawn in the brand's zone: the quietest hour of a retail brand, clear of the jobs after
# midnight. Deleting in committed batches, a run stopped half-way leaves the rest to the next.
@job(id="retention.prune", trigger=daily_before_dawn, coalesce=True, max_instances=1)
async def prune_expired_rows(ctx: JobContext) -> None:
    """Delete the housekeeping rows past their lifetime ([retention]), in batches."""
    report = await prune(ctx.services, should_stop=ctx.should_stop)
    log.info("retention pruned", extra=report.as_dict())


# Months are made three ahead (wxmember/core/partitioning.py): a daily run that fails for weeks
# still leaves every insert a partition of its month.
@job(id="partitions.ahead", trigger=daily_at_dawn, coalesce=True, max_instances=1)
async def make_partitions_ahead(ctx: JobContext) -> None:
    """PostgreSQL: the monthly partitions of this month and the next ones, where missing."""
    async with in_transaction() as conn:
        created = await ensure_months(conn, local_today(ctx.services))
    if created:
        log.info("partitions created", extra={"partitions": created})
