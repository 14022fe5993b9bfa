"""Short batches of Redis commands on connections of their own: the Redis work of every request.

Each request of the mini-program API reads the member's change marks (`member_cache`), and each
bot push claims its key and records its answer. Through redis-py's client, a command spends
most of its CPU outside the socket: the blocking pool's condition and timeout, argument checks,
retry wrappers, a task for each timed write, response callbacks. On a two-core machine that was
about 170 µs of CPU for a pipeline of two GETs, against 70–90 µs for the same round trip on a
bare connection. A lane sends a batch on one of a few connections it keeps, with one deadline
for the whole exchange, and hands back the raw replies (bytes, None, integers; a simple
string as bytes).

Failures read as any Redis failure (`RedisError`), so callers keep their fail-open paths: a
connection that errs, times out or is interrupted is closed, never reused with a reply left
unread. A batch that fails on a connection that had sat idle is tried once more on a new one
(the server may have restarted since). Only a single server's client gets connections of its
own (`RedisLane`); on a cluster the commands of a batch belong to different nodes, and the
in-process stand-in has no socket, so both go through the client's pipeline (`ClientLane`),
which has the same `execute`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wxmember.core.redis import RedisClient
from wxmember.core.shutdown import CLOSE_SECONDS, bounded

log = logging.getLogger(__name__)

Command = tuple[str | bytes | int, ...]
SIZE = 16


class RedisLane:
    """Up to `size` connections, each carrying one batch at a time."""

    def __init__(self, client: Redis, size: int = SIZE) -> None:
        self._pool = client.connection_pool
        kwargs = self._pool.connection_kwargs
        self._timeout = float(kwargs.get("socket_timeout") or 5.0)
        self._idle: list[AbstractConnection] = []
        self._room = asyncio.Semaphore(size)
        self._closed = False

    async def execute(self, *commands: Command) -> list[Any]:
        """The replies to `commands`, sent together; a `RedisError` if any fails."""
        async with self._room:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else self._connection()
            try:
                replies = await self._exchange(conn, commands)
            except RedisConnectionError:
                await _close(conn)
                if not reused:
                    raise
                conn = self._connection()  # the idle one went stale: once more on a new one
                try:
                    replies = await self._exchange(conn, commands)
                except BaseException:
                    await _close(conn)
                    raise
            except BaseException:
                await _close(conn)
                raise
            if self._closed:
                await _close(conn)
            else:
                self._idle.append(conn)
            return replies

    def _connection(self) -> AbstractConnection:
        conn = self._pool.make_connection()
        conn.socket_timeout = None  # the exchange has one deadline of its own
        return conn

    async def _exchange(self, conn: AbstractConnection, commands: Sequence[Command]) -> list[Any]:
        try:
            async with asyncio.timeout(self._timeout):
                if not conn.is_connected:
                    await conn.connect()
                await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
                return [await conn.read_response() for _ in commands]
        except TimeoutError:
            raise RedisTimeoutError("Redis did not answer in time") from None
        except OSError as exc:
            raise RedisConnectionError(f"Redis connection failed: {exc}") from None

    async def aclose(self) -> None:
        """Close the idle connections; one still in use is closed when its batch ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await bounded(_close(conn), CLOSE_SECONDS, "redis lane close")


async def _close(conn: AbstractConnection) -> None:
    try:
        await conn.disconnect(nowait=True)
    except Exception:  # closing a broken socket: nothing left to save
        log.debug("redis lane connection not closed cleanly", exc_info=True)


class ClientLane:
    """The same batches through the client's pipeline: a cluster (each command to its node)
    and the in-process stand-in. Replies pass through redis-py's callbacks (a SET's is True)."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def execute(self, *commands: Command) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute())

    async def aclose(self) -> None:
        pass


Lane: TypeAlias = RedisLane | ClientLane


def lane_for(client: RedisClient) -> Lane:
    """A lane of its own for a single server's client, else the client's pipeline."""
    if type(client) is Redis:  # not a cluster, not the stand-in (a subclass)
        return RedisLane(client)
    return ClientLane(client)
