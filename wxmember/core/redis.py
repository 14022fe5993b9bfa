"""Redis: a real server by URL, a Redis Cluster, or the in-process stand-in for the embedded setup.

`RedisClient` is what the rest of the code holds: a single server's client (or the stand-in,
which is one) or a cluster's. Both speak the same commands; on a cluster, every operation that
meets several keys keeps them in one hash slot (a `{tag}`), or splits into one command a key
(docs/SCALING.md, "Redis Cluster").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from fakeredis import FakeAsyncRedis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from wxmember.core.config import Config
from wxmember.core.shutdown import CLOSE_SECONDS, bounded

log = logging.getLogger(__name__)

RedisClient: TypeAlias = Redis | RedisCluster


@asynccontextmanager
async def open_redis(config: Config) -> AsyncIterator[RedisClient]:
    """A Redis client for the life of the block, closed after (given up on past `CLOSE_SECONDS`)."""
    client: RedisClient
    if config.redis.url and config.redis.cluster:
        # At most `max_connections` to each node; the slot map is read from the node named
        # and kept current as the cluster answers MOVED.
        client = RedisCluster.from_url(
            config.redis.url, max_connections=config.redis.max_connections
        )
        await _learn_slots(client)
    elif config.redis.url:
        # A blocking pool makes a burst wait for a free connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            config.redis.url, max_connections=config.redis.max_connections, timeout=5
        )
        client = Redis.from_pool(pool)
    else:
        log.warning("redis.url is empty: using the in-process Redis stand-in, for one process only")
        client = FakeAsyncRedis()
    try:
        yield client
    finally:
        await bounded(client.aclose(), CLOSE_SECONDS, "redis close")


async def _learn_slots(client: RedisCluster) -> None:
    """Read the slot map now, so that the first requests do not all wait for it.

    A cluster that cannot be reached yet is no reason not to start (a single server is not
    asked either): the client reads the map on its first command instead.
    """
    try:
        await client.initialize()
    except (RedisError, OSError) as exc:
        log.warning("Redis Cluster not reachable at start", extra={"error": repr(exc)})


async def settle(client: RedisClient) -> None:
    """Call right before each command given to a cluster's transaction pipeline after `WATCH`.

    redis-py's cluster pipeline works out a transaction's commands in a thread of their own, on
    an event loop of their own; should the client have to read the slot map again then (a
    command elsewhere failed on a connection meanwhile), it would read it on that other loop and
    fail with a RuntimeError. Read here, on the service's loop, the map is current for the
    command that follows at once. Nothing to do on a single server, or when the map is current.
    """
    if isinstance(client, RedisCluster):
        await client.initialize()


async def ping(client: RedisClient) -> bool:
    """Every node that holds keys answers (on a cluster, each primary: one down fails it)."""
    if isinstance(client, RedisCluster):
        return bool(await client.ping(target_nodes=RedisCluster.PRIMARIES))
    return bool(await client.ping())
