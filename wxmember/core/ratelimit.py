"""Fixed-window rate limits kept in Redis (shared by every worker process)."""

from __future__ import annotations

from redis.asyncio import Redis

from wxmember.core.errors import TooManyRequests


async def hit(redis: Redis, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; False once more than `limit` hits fell in the current window."""
    full_key = f"wxmember:rl:{key}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(full_key)
        pipe.expire(full_key, window_seconds, nx=True)
        count, _ = await pipe.execute()
    return int(count) <= limit


async def enforce(redis: Redis, key: str, limit: int, window_seconds: int) -> None:
    """Raise a 429 when `key` is over its limit."""
    if not await hit(redis, key, limit, window_seconds):
        raise TooManyRequests("Too many attempts; wait a minute and try again.")
