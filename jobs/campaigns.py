"""The campaign job: every 15 seconds, start the campaigns due and deliver the running ones."""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger

from handlers.campaigns.run import run_due_campaigns
from handlers.reminders import pacer_for
from jobs.base import JobContext, job
from wxmember.core.config import Config

log = logging.getLogger(__name__)


def every_quarter_minute(config: Config) -> CronTrigger:
    return CronTrigger(second="*/15", timezone=config.brand.tz)


@job(id="campaigns.run", trigger=every_quarter_minute, coalesce=True, max_instances=1)
async def run_campaigns(ctx: JobContext) -> None:
    """Start due campaigns, record their members, deliver; sends share the reminders' pace."""
    outcomes = await run_due_campaigns(
        ctx.services, pacer=pacer_for(ctx.services), should_stop=ctx.should_stop
    )
    if outcomes:
        log.info("campaigns run", extra={"outcomes": dict(outcomes)})
