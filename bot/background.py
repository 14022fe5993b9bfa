"""Work that outlives its request: answers that missed WeChat's 5-second window.

Tasks are kept in a set on the bot application (`BACKGROUND`), so none is garbage-collected
mid-flight and shutdown can account for each: when the server stops, running tasks get a
grace period to deliver (on_shutdown, while the database, Redis and the HTTP session are still
open), and whatever is left is cancelled when the cleanup context closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

BACKGROUND = web.AppKey("bot_background_tasks", set[asyncio.Task[Any]])
GRACE_SECONDS = 10.0


def spawn(app: web.Application, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start `work` as a task tracked on the app until it finishes."""
    tasks = app[BACKGROUND]
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    app[BACKGROUND] = set()
    yield
    await _cancel(app[BACKGROUND])


async def finish_background(app: web.Application) -> None:
    """On shutdown: let running work finish for a while, then cancel the rest."""
    tasks = app[BACKGROUND]
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=GRACE_SECONDS)
    if pending:
        log.warning("cancelling %d bot tasks still running at shutdown", len(pending))
        await _cancel(pending)


async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
