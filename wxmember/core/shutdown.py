"""Bounded shutdown steps: a close or release that stalls is given up on, never waited for forever.

`bounded(step, seconds, what)` runs the step as a task of its own and bounds only the waiting for
it, so the bound holds even when the step does not end on cancellation. That happens: on Python
3.11 `asyncio.wait_for`, which redis-py uses for every socket write, returns the result instead of
raising when a cancellation arrives just as the wrapped write completes, so a task cancelled in a
Redis call can carry on as if nothing happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)

# How long a closing resource (Redis client, database connections) may take before it is left.
CLOSE_SECONDS = 10.0
# After the bound, a cancelled step gets this long to unwind before it is left running.
CANCEL_GRACE_SECONDS = 1.0


async def bounded(step: Awaitable[object], seconds: float, what: str) -> bool:
    """Await `step` for at most `seconds`; True when it finished within the bound.

    Past the bound the step is cancelled, given `CANCEL_GRACE_SECONDS` to unwind, and otherwise
    left behind; either way a warning names it. An exception the step raised within the bound is
    raised here; a step that was cancelled by someone else counts as not finished. If the caller is
    cancelled while waiting, the step is cancelled too.
    """
    task = asyncio.ensure_future(step)
    try:
        await asyncio.wait({task}, timeout=seconds)
    except BaseException:
        task.cancel()
        raise
    if task.done():
        if task.cancelled():
            return False
        task.result()
        return True
    task.cancel()
    task.add_done_callback(_retrieve)
    await asyncio.wait({task}, timeout=CANCEL_GRACE_SECONDS)
    log.warning(
        "shutdown step did not finish in time",
        extra={"step": what, "seconds": seconds, "left_running": not task.done()},
    )
    return False


def _retrieve(task: asyncio.Future[object]) -> None:
    """Mark the outcome of a step given up on as seen (no "exception never retrieved")."""
    if not task.cancelled():
        task.exception()
