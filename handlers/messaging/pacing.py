"""Pacing of reminder sends: at most `reminders.sends_per_second` per wall-clock second.

The count lives in Redis (one counter per second), so every process that sends reminders (the
scheduler, a `wxmember run-reminders` beside it) shares one budget. Within a second the n-th
send waits for its slot at n/rate, so sends are spread over the second rather than bunched at
its start. Should Redis fail, a process paces itself alone at the same rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from wxmember.core.redis import RedisClient

log = logging.getLogger(__name__)

PACE_KEY = "wxmember:reminders:pace:{}"


class SendPacer:
    """Waits until the next send is allowed; shared across processes through Redis."""

    def __init__(
        self, redis: RedisClient, per_second: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._rate = per_second
        self._clock = clock
        self._local_next = 0.0

    async def wait(self) -> None:
        """Return when one more send fits in the budget."""
        while True:
            now = self._clock()
            second = int(now)
            try:
                taken = await self._take(second)
            except (RedisError, OSError) as exc:
                log.warning("pacing without Redis", extra={"error": repr(exc)})
                await self._wait_locally()
                return
            if taken <= self._rate:
                slot = second + (taken - 1) / self._rate
                if slot > now:
                    await asyncio.sleep(slot - now)
                return
            await asyncio.sleep(max(0.0, second + 1 - self._clock()))

    async def _take(self, second: int) -> int:
        key = PACE_KEY.format(second)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 10)
            taken, _ = await pipe.execute()
        return int(taken)

    async def _wait_locally(self) -> None:
        now = self._clock()
        slot = max(now, self._local_next)
        self._local_next = slot + 1 / self._rate
        if slot > now:
            await asyncio.sleep(slot - now)
