"""Redis: a real server by URL, a Redis Cluster, or the in-process stand-in for the embedded setup.

`RedisClient` is what the rest of the code holds: a single server's client (or the stand-in,
which is one) or a cluster's. Both speak the same commands; on a cluster, every operation that
meets several keys keeps them in one hash slot (a `{tag}`), or splits into one command a key
(docs/SCALING.md, "Redis Cluster").
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeAlias

from fakeredis import FakeAsyncRedis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import (
    ConnectionError,
    CrossSlotTransactionError,
    RedisClusterException,
    RedisError,
)

from wxmember.core.config import Config
from wxmember.core.shutdown import CLOSE_SECONDS, bounded

log = logging.getLogger(__name__)

RedisClient: TypeAlias = Redis | RedisCluster
# How long a command waits for a free connection before it fails (as the blocking pool's timeout).
WAIT_SECONDS = 5.0


@asynccontextmanager
async def open_redis(config: Config) -> AsyncIterator[RedisClient]:
    """A Redis client for the life of the block, closed after (given up on past `CLOSE_SECONDS`)."""
    client: RedisClient
    if config.redis.url and config.redis.cluster:
        # At most `max_connections` operations at once, so as many connections to each node;
        # the slot map is read from the node named and kept current as the cluster answers MOVED.
        client = ServiceRedisCluster.from_url(
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


class ClusterUnreachableError(ConnectionError):
    """The cluster, or the node of a key's slot, cannot be reached: a Redis error like others."""


@contextmanager
def _as_redis_errors() -> Iterator[None]:
    """redis-py says "no reachable node" or "slot not covered" with errors outside RedisError;
    the service's fail-open and 503 `redis_unavailable` paths know RedisError only."""
    try:
        yield
    except CrossSlotTransactionError:
        raise  # a key format that breaks the cluster's rules: a bug, not an outage
    except RedisClusterException as exc:
        raise ClusterUnreachableError(str(exc)) from exc


class ServiceRedisCluster(RedisCluster):
    """The service's client of a Redis Cluster: it waits for a connection as the single
    server's pool does, and reports an unreachable cluster as a Redis error.

    redis-py's cluster client fails a command at once (MaxConnectionsError) when its node has
    `max_connections` in use, where a single server's blocking pool makes it wait. Here at most
    `max_connections` operations are under way at once, each a command or a pipeline holding at
    most one connection to each node, so no node runs out; the next one waits for room, up to
    `WAIT_SECONDS`, as with the blocking pool. An operation takes its room before it takes any
    connection, so waiting never holds one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.room = asyncio.Semaphore(kwargs.get("max_connections", 100))

    async def initialize(self, *args: Any, **kwargs: Any) -> RedisCluster:
        with _as_redis_errors():
            return await super().initialize(*args, **kwargs)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await take_room(self.room)
        try:
            with _as_redis_errors():
                return await super().execute_command(*args, **kwargs)
        finally:
            self.room.release()

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused there
        # (redis-py's own typing leaves its pipeline abstract; it builds one the same way)
        return _WaitingPipeline(self, transaction)  # type: ignore[abstract]


class _WaitingPipeline(ClusterPipeline):
    """Holds one unit of its client's room from its start (or its WATCH) to its reset."""

    def __init__(self, client: ServiceRedisCluster, transaction: bool | None) -> None:
        super().__init__(client, transaction)
        self._room = client.room
        self._holds = False

    async def _hold(self) -> None:
        if not self._holds:
            await take_room(self._room)
            self._holds = True

    async def initialize(self) -> ClusterPipeline:
        await self._hold()
        return await super().initialize()

    # The two overrides keep ClusterPipeline's signatures, which clash with redis-py's command
    # mixins (ClusterPipeline leaves them unannotated).
    async def watch(self, *names: Any) -> Any:  # type: ignore[override]
        await self._hold()  # a WATCH takes the transaction's connection
        with _as_redis_errors():
            return await super().watch(*names)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _as_redis_errors():
            done = super().execute_command(*args, **kwargs)
        if inspect.isawaitable(done) and not isinstance(done, ClusterPipeline):
            return _translated(done)  # a command run at once, between WATCH and MULTI
        return done

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        await self._hold()
        with _as_redis_errors():
            return await super().execute(raise_on_error, allow_redirections)

    async def reset(self) -> None:  # type: ignore[override]
        try:
            await super().reset()
        finally:
            if self._holds:
                self._holds = False
                self._room.release()


async def _translated(reply: Awaitable[Any]) -> Any:
    with _as_redis_errors():
        return await reply


async def take_room(room: asyncio.Semaphore) -> None:
    """One unit of `room`, waited for up to `WAIT_SECONDS`; a Redis error past that."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await room.acquire()
    except TimeoutError:
        raise ConnectionError(f"no free Redis connection within {WAIT_SECONDS} s") from None
