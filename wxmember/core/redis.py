"""Redis: a real server by URL, or the in-process stand-in for the one-process embedded setup."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fakeredis import FakeAsyncRedis
from redis.asyncio import BlockingConnectionPool, Redis

from wxmember.core.config import Config
from wxmember.core.shutdown import CLOSE_SECONDS, bounded

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_redis(config: Config) -> AsyncIterator[Redis]:
    """A Redis client for the life of the block, closed after (given up on past `CLOSE_SECONDS`)."""
    if config.redis.url:
        # A blocking pool makes a burst wait for a free connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            config.redis.url, max_connections=config.redis.max_connections, timeout=5
        )
        client: Redis = Redis.from_pool(pool)
    else:
        log.warning("redis.url is empty: using the in-process Redis stand-in, for one process only")
        client = FakeAsyncRedis()
    try:
        yield client
    finally:
        await bounded(client.aclose(), CLOSE_SECONDS, "redis close")
