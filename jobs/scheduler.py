"""The APScheduler instance, owned by the app's cleanup context or by `wxmember scheduler`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from wxmember import keys

log = logging.getLogger(__name__)

SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


def build_scheduler(timezone: str) -> AsyncIOScheduler:
    """A scheduler whose missed runs after downtime fire once, not once per missed slot."""
    return AsyncIOScheduler(
        timezone=timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    scheduler = build_scheduler(config.brand.timezone)
    app[SCHEDULER] = scheduler
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
