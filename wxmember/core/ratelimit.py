"""Fixed-window rate limits kept in Redis (shared by every worker process).

The first hit on a key opens a window of `window_seconds`; the key counts hits until it expires.

- `hit` / `enforce` count every request.
- `reserve` / `release` count only what the caller keeps: a reservation takes one unit before
  the work (so concurrent requests can never take more than the limit between them) and
  `release` gives it back when the attempt turns out not to count, e.g. a login whose password
  was right. A unit given back after its window closed is credited to the next window, which
  lets at most one more attempt through per such release.
"""

from __future__ import annotations

from redis.asyncio import Redis

from wxmember.core.errors import TooManyRequests

_PREFIX = "wxmember:rl:"


def too_many() -> TooManyRequests:
    return TooManyRequests("Too many attempts; wait a minute and try again.")


async def hit(redis: Redis, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; False once more than `limit` hits fell in the current window."""
    full_key = _PREFIX + key
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(full_key)
        pipe.expire(full_key, window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count) <= limit


async def enforce(redis: Redis, key: str, limit: int, window_seconds: int) -> None:
    """Raise a 429 when `key` is over its limit."""
    if not await hit(redis, key, limit, window_seconds):
        raise too_many()


async def reserve(redis: Redis, key: str, limit: int, window_seconds: int) -> str | None:
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


async def release(redis: Redis, slot: str, window_seconds: int) -> None:
    """Give back a unit taken by `reserve`."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.decr(slot)
        pipe.expire(slot, window_seconds, nx=True)
        await pipe.execute()
