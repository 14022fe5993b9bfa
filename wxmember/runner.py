"""Running the scheduler or one reminder rule outside `wxmember serve`, for the CLI.

The database, Redis, the HTTP session and the services are opened by the app's own cleanup
contexts (wxmember/app.py), on an application that serves no routes and listens nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from aiohttp import web

from handlers.reminders.runs import run_rule
from jobs.scheduler import scheduler_ctx
from wxmember.app import database_ctx, http_ctx, redis_ctx, services_ctx
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.metrics import Metrics

log = logging.getLogger(__name__)


@asynccontextmanager
async def running_services(
    config: Config, *, with_scheduler: bool = False
) -> AsyncIterator[web.Application]:
    """The app's resources opened for the life of the block (and the scheduler if asked)."""
    app = web.Application()
    app[keys.CONFIG] = config
    app[keys.METRICS] = Metrics()
    app.cleanup_ctx.extend([database_ctx, redis_ctx, http_ctx, services_ctx])
    if with_scheduler:
        app.cleanup_ctx.append(scheduler_ctx)
    app.pre_freeze()  # signals fixed; the contexts still put their resources on the app
    try:
        await app.startup()
        yield app
    finally:
        await app.cleanup()


async def run_scheduler(config: Config, stop: asyncio.Event | None = None) -> None:
    """Run the scheduler until SIGINT or SIGTERM (or `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_services(config, with_scheduler=True):
            log.info("scheduler process running")
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("scheduler process stopped")


async def run_rule_now(config: Config, rule_id: int, day: date) -> dict[str, int]:
    """Run one reminder rule for a send day now; the outcome counts per state."""
    async with running_services(config) as app:
        services = app[keys.SERVICES]
        async with services.members.recording_changes():
            return await run_rule(services, rule_id, day)
