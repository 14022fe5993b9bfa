"""Fixed-window rate limits kept in Redis (shared by every worker process).

The first hit on a key opens a window of `window_seconds`; the key counts hits until it expires.

- `hit` / `enforce` count every request.
- `reserve` / `release` count only what the caller keeps: a reservation takes one unit before
  the work (so concurrent requests can never take more than the limit between them) and
  `release` gives it back when the attempt turns out not to count, e.g. a login whose password
  was right. A unit given back after its window closed is credited to the next window, which
  lets at most one more attempt through per such release.

Without Redis a limit cannot be counted, and each caller says what happens then: `enforce`'s
`fail_open` lets the request through (a warning is logged), else the RedisError reaches the
middleware and the request is 503 `redis_unavailable`. `reserve` always fails closed (staff
logins: a guessing attack gets no window by breaking Redis first); `release` only gives a
unit back, so a failure there is logged and the unit expires with its window.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from wxmember.core.errors import TooManyRequests
from wxmember.core.redis import RedisClient

log = logging.getLogger(__name__)

_PREFIX = "wxmember:rl:"


def too_many() -> TooManyRequests:
    return TooManyRequests("Too many attempts; wait a minute and try again.")


async def hit(redis: RedisClient, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; False once more than `limit` hits fell in the current window."""
    full_key = _PREFIX + key
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(full_key)
        pipe.expire(full_key, window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count) <= limit


async def enforce(
    redis: RedisClient, key: str, limit: int, window_seconds: int, *, fail_open: bool
) -> None:
    """Raise a 429 when `key` is over its limit; without Redis, pass if `fail_open`."""
    try:
        within = await hit(redis, key, limit, window_seconds)
    except RedisError as exc:
        if not fail_open:
            raise
        log.warning("rate limit not counted: Redis unavailable", extra={"error": repr(exc)})
        return
    if not within:
        raise too_many()


async def reserve(redis: RedisClient, key: str, limit: int, window_seconds: int) -> str | None:
    """Take one unit of `key`'s budget in the current window.

    Returns the slot to `release` if the attempt ends up not counting, or None when the budget
    is spent (then nothing is taken).
    """
    slot = _PREFIX + key
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(slot)
        pipe.expire(slot, window_seconds, nx=True)
        count, _ = await pipe.execute()
    if int(count) > limit:
        await release(redis, slot, window_seconds)
        return None
    return slot


async def release(redis: RedisClient, slot: str, window_seconds: int) -> None:
    """Give back a unit taken by `reserve`."""
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.decr(slot)
            pipe.expire(slot, window_seconds, nx=True)
            await pipe.execute()
    except RedisError as exc:
        log.warning("rate limit unit not given back", extra={"error": repr(exc)})
