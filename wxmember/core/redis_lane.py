"""The Redis work of every request, pipelined on one connection of its own.

Each request of the mini-program API reads the member's change marks (`member_cache`), and each
bot push claims its key and records its answer: a short batch of commands per request, thousands
a second. Through redis-py's client a command spends most of its CPU outside the socket (the
blocking pool's condition and timeout, argument checks, retry wrappers, a task for each timed
write, response callbacks), and every round trip is a write and a read of its own, for the
service and for Redis. A lane queues the batches asked for while the event loop runs its
callbacks, writes them all in one go on the connection it keeps, and reads the replies back in
order, handing each batch its raw replies (bytes, None, integers; a simple string as bytes).
Under load, one write and one read carry the Redis work of many requests.

Failures read as any Redis failure (`RedisError`), so callers keep their fail-open paths:

- an argument the wire format cannot carry (a float, None) fails its caller at once: a batch is
  put in the wire format when it is asked for (`packed`), never in the write of many;
- an error reply fails its own batch only (the batch's other replies are still read);
- a connection that breaks fails every batch waiting on it, and the next batch opens a new one;
  a batch that failed on a connection it did not open is tried once more on a new one (the
  server may have restarted since);
- one deadline covers each step: opening the connection, writing (a server that stops reading
  fills the socket), and each batch's replies once written; past it the server is taken as
  stuck, and the connection is closed, failing what waits on it as a timeout;
- a caller that stops waiting (cancelled) leaves its replies to be read and dropped, so the
  connection stays in step; a batch cancelled before it was written is not sent.

Blocking commands (BLPOP, WAIT, ...) would hold up every batch behind them and do not belong on
a lane. Only a single server's client gets a connection of its own (`RedisLane`); on a cluster
the commands of a batch belong to different nodes, and the in-process stand-in has no socket, so
both go through the client's pipeline (`ClientLane`), which has the same `execute`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wxmember.core.redis import RedisClient
from wxmember.core.shutdown import CLOSE_SECONDS, bounded

log = logging.getLogger(__name__)

Command = tuple[str | bytes | int, ...]
_readers: set[asyncio.Task[None]] = set()


def packed(commands: Sequence[Command]) -> bytes:
    """The commands in Redis's wire format (RESP), byte for byte what redis-py's `pack_commands`
    writes for them, at a third of its cost: a command's name is one word, and each argument is
    bytes, text (UTF-8) or an integer; anything else is a `DataError`."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int) and not isinstance(arg, bool):
                data = b"%d" % arg
            else:
                raise DataError(f"a Redis argument is bytes, str or int, not {type(arg).__name__}")
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Batch:
    """The commands of one `execute` as written, and where their replies go."""

    __slots__ = ("expected", "future", "payload", "replies", "retry", "sent_at")

    def __init__(self, payload: bytes, expected: int, future: asyncio.Future[list[Any]]) -> None:
        self.payload = payload
        self.expected = expected  # one reply per command
        self.future = future
        self.replies: list[Any] = []
        self.retry = False  # written on a connection it did not open: one more try if it breaks
        self.sent_at = 0.0

    def finish(self) -> None:
        if self.future.done():  # the caller stopped waiting
            return
        error = next((reply for reply in self.replies if isinstance(reply, ResponseError)), None)
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(self.replies)

    def fail(self, error: RedisError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _Pipe:
    """One connection: batches written in order, their replies read in order by a task."""

    def __init__(self, conn: AbstractConnection, timeout: float) -> None:
        self.conn = conn
        self.waiting: deque[_Batch] = deque()
        self.broken: RedisError | None = None
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self.reader = self._loop.create_task(self._read())
        _readers.add(self.reader)  # held until done, also once the lane has moved on
        self.reader.add_done_callback(_readers.discard)

    @property
    def usable(self) -> bool:
        return self.broken is None and self.conn.is_connected

    async def write(self, batches: list[_Batch]) -> None:
        """Send the batches; their replies come to them through the reader."""
        now = self._loop.time()
        for batch in batches:
            batch.sent_at = now
        self.waiting.extend(batches)  # before the write: the reader must expect the replies
        if self._timer is None:
            self._timer = self._loop.call_at(now + self._timeout, self._check_deadline)
        try:
            async with asyncio.timeout(self._timeout):  # a server that stops reading
                await self.conn.send_packed_command(
                    [batch.payload for batch in batches], check_health=False
                )
        except TimeoutError:
            raise RedisTimeoutError("Redis did not take the commands in time") from None

    def break_(self, error: RedisError) -> None:
        """Stop using the connection: every batch waiting on it fails with `error`."""
        if self.broken is None:
            self.broken = error
            self.reader.cancel()

    def _check_deadline(self) -> None:
        self._timer = None
        if not self.waiting or self.broken is not None:
            return
        due = self.waiting[0].sent_at + self._timeout
        if self._loop.time() >= due:
            self.break_(RedisTimeoutError("Redis did not answer in time"))
        else:
            self._timer = self._loop.call_at(due, self._check_deadline)

    async def _read(self) -> None:
        conn, waiting = self.conn, self.waiting
        try:
            while True:
                try:
                    reply = await conn.read_response()
                except ResponseError as exc:  # read whole: the connection is still in step
                    reply = exc
                if not waiting:
                    raise RedisConnectionError("Redis sent a reply nobody asked for")
                batch = waiting[0]
                batch.replies.append(reply)
                if len(batch.replies) == batch.expected:
                    waiting.popleft()
                    batch.finish()
        except (Exception, asyncio.CancelledError) as exc:  # cancelled by `break_` too
            if self.broken is None:
                self.broken = _redis_error(exc)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            error = self.broken or RedisConnectionError("Redis connection closed")
            left = list(waiting)
            waiting.clear()
            for batch in left:
                batch.fail(error)
            await _close(conn)


class RedisLane:
    """The batches of every request, pipelined on one connection."""

    def __init__(self, client: Redis) -> None:
        self._pool = client.connection_pool
        kwargs = self._pool.connection_kwargs
        self._timeout = float(kwargs.get("socket_timeout") or 5.0)
        self._queue: list[_Batch] = []
        self._pipe: _Pipe | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def execute(self, *commands: Command) -> list[Any]:
        """The replies to `commands`, sent together; a `RedisError` if any fails."""
        if not commands:
            return []
        payload = packed(commands)
        batch = self._ask(payload, len(commands))
        try:
            return await batch.future
        except RedisConnectionError:
            if not batch.retry:
                raise
        return await self._ask(payload, len(commands)).future  # once more, on a new connection

    def _ask(self, payload: bytes, expected: int) -> _Batch:
        if self._closed:
            raise RedisConnectionError("the Redis lane is closed")
        loop = asyncio.get_running_loop()
        batch = _Batch(payload, expected, loop.create_future())
        self._queue.append(batch)
        if self._flusher is None:
            # Runs after the callbacks the loop has ready now: what they ask goes in one write.
            self._flusher = loop.create_task(self._flush())
        return batch

    async def _flush(self) -> None:
        try:
            while self._queue:
                try:
                    pipe, opened = await self._usable_pipe()
                except Exception as exc:
                    queued, self._queue = self._queue, []
                    for batch in queued:
                        batch.fail(_redis_error(exc))
                    continue
                batches = [batch for batch in self._queue if not batch.future.done()]
                self._queue = []
                for batch in batches:
                    batch.retry = not opened
                if not batches:
                    continue
                try:
                    await pipe.write(batches)
                except Exception as exc:
                    pipe.break_(_redis_error(exc))  # its reader fails the batches written
        finally:
            self._flusher = None

    async def _usable_pipe(self) -> tuple[_Pipe, bool]:
        """The connection in use, or a new one (True) when there is none or it broke."""
        pipe = self._pipe
        if pipe is not None and pipe.usable:
            return pipe, False
        if pipe is not None:
            pipe.break_(RedisConnectionError("Redis connection lost"))
        conn = self._pool.make_connection()
        conn.socket_timeout = None  # each batch has a deadline of its own
        try:
            async with asyncio.timeout(self._timeout):
                await conn.connect()
        except BaseException:
            await _close(conn)
            raise
        self._pipe = _Pipe(conn, self._timeout)
        return self._pipe, True

    async def aclose(self) -> None:
        """Fail what is still asked or waiting, and close the connection."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
        queued, self._queue = self._queue, []
        closed = RedisConnectionError("the Redis lane is closed")
        for batch in queued:
            batch.fail(closed)
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.break_(closed)
            await bounded(pipe.reader, CLOSE_SECONDS, "redis lane close")


def _redis_error(exc: BaseException) -> RedisError:
    if isinstance(exc, RedisError):
        return exc
    if isinstance(exc, TimeoutError):
        return RedisTimeoutError("Redis did not answer in time")
    return RedisConnectionError(f"Redis connection failed: {exc!r}")


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
