"""The reminder job: every minute, send the reminders whose time has come."""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger

from handlers.reminders.runs import run_due_reminders
from jobs.base import JobContext, job
from wxmember.core.config import Config

log = logging.getLogger(__name__)


def every_minute(config: Config) -> CronTrigger:
    return CronTrigger(second=0, timezone=config.brand.tz)


@job(id="reminders.send_due", trigger=every_minute, coalesce=True, max_instances=1)
async def send_due_reminders(ctx: JobContext) -> None:
    """Claim today's occasions of the rules whose send time has come, then deliver."""
    summary = await run_due_reminders(ctx.services, should_stop=ctx.should_stop)
    if summary.claimed or summary.recovered or summary.outcomes:
        log.info(
            "reminders run",
            extra={
                "claimed": summary.claimed,
                "recovered": summary.recovered,
                "outcomes": dict(summary.outcomes),
            },
        )
