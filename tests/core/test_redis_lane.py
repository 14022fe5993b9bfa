"""The Redis lane: batches on connections of its own, against a real server. A connection that
errs, times out or is interrupted is never used again with a reply left unread."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.support.settings import REDIS_URL
from wxmember.core.redis_lane import ClientLane, RedisLane, lane_for

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs WXMEMBER_TEST_REDIS_URL")


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def lane(client: Redis) -> AsyncIterator[RedisLane]:
    lane = lane_for(client)
    assert isinstance(lane, RedisLane)
    yield lane
    await lane.aclose()


async def test_a_batch_answers_in_order_with_the_raw_replies(lane: RedisLane) -> None:
    replies = await lane.execute(
        ("SET", "k1", b"v1", "EX", 60, "NX"),
        ("SET", "k1", b"v2", "EX", 60, "NX"),
        ("GET", "k1"),
        ("GET", "missing"),
        ("INCR", "n"),
    )
    assert replies == [b"OK", None, b"v1", None, 1]


async def test_the_client_lane_answers_the_same_batches(client: Redis) -> None:
    lane = ClientLane(client)
    replies = await lane.execute(("SET", "k1", b"v1", "NX"), ("SET", "k1", b"v2", "NX"))
    assert [bool(reply) for reply in replies] == [True, False]
    assert await lane.execute(("GET", "k1")) == [b"v1"]


async def test_one_connection_carries_every_batch(lane: RedisLane) -> None:
    one_after_another = {(await lane.execute(("CLIENT", "ID")))[0] for _ in range(20)}
    at_once = await asyncio.gather(*(lane.execute(("CLIENT", "ID")) for _ in range(50)))
    assert len(one_after_another | {reply[0] for reply in at_once}) == 1


async def test_batches_asked_together_go_out_in_one_write(
    lane: RedisLane, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lane.execute(("PING",))  # connected
    writes: list[int] = []
    send = AbstractConnection.send_packed_command

    async def counted(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
        writes.append(len(command))
        await send(conn, command, check_health=check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    replies = await asyncio.gather(
        *(lane.execute(("SET", f"k{n}", n), ("GET", f"k{n}")) for n in range(50))
    )
    assert replies == [[b"OK", str(n).encode()] for n in range(50)]
    assert len(writes) == 1


async def test_an_error_reply_fails_its_own_batch_only(client: Redis, lane: RedisLane) -> None:
    await client.rpush("a-list", "x")
    await client.mset({"after-error": b"read", "k": b"mine"})
    failed: list[Any] | BaseException
    beside: list[Any] | BaseException
    failed, beside = await asyncio.gather(
        lane.execute(("GET", "a-list"), ("GET", "after-error")),
        lane.execute(("GET", "k")),
        return_exceptions=True,
    )
    assert isinstance(failed, ResponseError)
    assert beside == [b"mine"]
    assert await lane.execute(("GET", "k")) == [b"mine"]  # not the reply after the error


async def test_an_argument_redis_cannot_take_fails_its_own_caller_only(lane: RedisLane) -> None:
    await lane.execute(("PING",))  # connected
    bad, *good = await asyncio.gather(
        lane.execute(("SET", "k", None)),  # type: ignore[arg-type]
        *(lane.execute(("SET", f"k{n}", n), ("GET", f"k{n}")) for n in range(5)),
        return_exceptions=True,
    )
    assert isinstance(bad, DataError)
    assert good == [[b"OK", str(n).encode()] for n in range(5)]
    assert await lane.execute(("GET", "k")) == [None]


async def test_a_caller_that_stops_waiting_leaves_no_reply_for_the_next(
    client: Redis, lane: RedisLane
) -> None:
    await client.set("k", b"second")
    slow = asyncio.create_task(lane.execute(("BLPOP", "never", 5)))
    await asyncio.sleep(0.1)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await client.rpush("never", "late")  # the reply the cancelled batch would have got
    assert await lane.execute(("GET", "k")) == [b"second"]
    assert await client.llen("never") == 0  # it was sent, and its reply read and dropped


async def test_many_batches_with_cancellations_and_errors_each_get_their_own_replies(
    client: Redis, lane: RedisLane
) -> None:
    await client.rpush("a-list", "x")
    rng = random.Random(7)

    async def one(n: int) -> tuple[str, Any]:
        if n % 7 == 3:  # an error reply in the middle of a batch
            try:
                await lane.execute(("GET", f"e{n}"), ("GET", "a-list"), ("GET", f"e{n}"))
            except ResponseError:
                return "error", None
            return "no error", None
        for _ in range(rng.randrange(3)):
            await asyncio.sleep(0)
        return "ok", await lane.execute(("SET", f"k{n}", n), ("GET", f"k{n}"), ("INCR", f"c{n}"))

    tasks = [asyncio.create_task(one(n)) for n in range(2000)]
    await asyncio.sleep(0)
    cancelled = set(rng.sample([n for n in range(2000) if n % 7 != 3], 300))
    for n in cancelled:
        tasks[n].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for n, outcome in enumerate(outcomes):
        if n in cancelled:
            assert isinstance(outcome, asyncio.CancelledError) or (
                isinstance(outcome, tuple) and outcome[1][1] == str(n).encode()
            )
        elif n % 7 == 3:
            assert outcome == ("error", None)
        else:
            assert outcome == ("ok", [b"OK", str(n).encode(), 1]), (n, outcome)
    assert await lane.execute(("GET", "k5")) == [b"5"]


async def test_a_batch_cancelled_before_it_is_written_is_not_sent(
    client: Redis, lane: RedisLane
) -> None:
    await lane.execute(("PING",))
    dropped = asyncio.create_task(lane.execute(("INCR", "n")))
    kept = asyncio.create_task(lane.execute(("INCR", "m")))
    await asyncio.sleep(0)  # both asked, neither written yet
    dropped.cancel()
    assert await kept == [1]
    assert await client.get("n") is None


async def test_a_connection_killed_while_idle_is_replaced_once(
    client: Redis, lane: RedisLane
) -> None:
    await client.set("k", b"v")
    (idle,) = await lane.execute(("CLIENT", "ID"))
    assert await client.client_kill_filter(_id=idle) == 1
    assert await lane.execute(("GET", "k")) == [b"v"]
    assert await lane.execute(("CLIENT", "ID")) != [idle]


Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _lane_to(serve: Serve, socket_timeout: float) -> AsyncIterator[RedisLane]:
    """A lane to a fake server that runs `serve` on each connection, then holds it open until
    the lane is closed; on the way out every connection is let go."""
    done = asyncio.Event()
    handlers: list[asyncio.Task[Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await serve(reader, writer)
            await done.wait()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(host="127.0.0.1", port=port, socket_timeout=socket_timeout, protocol=2)
    lane = RedisLane(client)
    try:
        yield lane
    finally:
        await lane.aclose()
        await client.aclose()
        done.set()
        await asyncio.gather(*handlers)
        server.close()
        await server.wait_closed()


async def test_a_server_that_does_not_answer_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pass

    started = time.monotonic()
    async with _lane_to(silent, socket_timeout=0.3) as lane:
        waiting = await asyncio.gather(
            *(lane.execute(("GET", f"k{n}")) for n in range(3)), return_exceptions=True
        )
    assert all(isinstance(outcome, RedisTimeoutError) for outcome in waiting), waiting
    assert time.monotonic() - started < 2


async def test_a_server_that_stops_reading_fails_the_write_in_time() -> None:
    connections = 0
    big_arrives = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The first connection answers the handshake's two commands, reads the first bytes of
        the next write and then nothing more; the next ones answer every command OK."""
        nonlocal connections
        connections += 1
        answered, first = 0, connections == 1
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if first and answered == 2:
                big_arrives.set()
                return
            commands = data.count(b"*") if not first else min(data.count(b"*"), 2 - answered)
            writer.write(b"+OK\r\n" * commands)
            answered += commands

    async with _lane_to(deaf, socket_timeout=0.3) as lane:
        big = asyncio.create_task(lane.execute(("SET", "big", b"x" * 32_000_000)))
        await asyncio.wait_for(big_arrives.wait(), 5)  # being written, and the socket fills
        started = time.monotonic()
        # queued behind the stuck write (bounded here, so that a lane that hangs fails)
        behind = await asyncio.wait_for(lane.execute(("GET", "k")), 5)
        with pytest.raises(RedisTimeoutError):
            await asyncio.wait_for(big, 5)
    assert behind == [b"OK"]  # on a new connection
    assert time.monotonic() - started < 2


async def test_no_server_is_a_connection_error_at_once() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    # built as the service builds it (wxmember.core.redis.open_redis)
    client = Redis.from_pool(BlockingConnectionPool.from_url(f"redis://127.0.0.1:{port}/0"))
    lane = RedisLane(client)
    started = time.monotonic()
    try:
        with pytest.raises(RedisConnectionError):
            await lane.execute(("GET", "k"))
        assert time.monotonic() - started < 1
    finally:
        await lane.aclose()
        await client.aclose()


async def test_a_connection_dropped_with_batches_waiting_fails_them_all() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while b"GET" not in (data := await reader.read(65536)):  # the handshake: all OK
            writer.write(b"+OK\r\n" * data.count(b"*"))
        writer.close()  # the batches arrived: drop the line

    started = time.monotonic()
    async with _lane_to(hang_up, socket_timeout=5) as lane:
        waiting = await asyncio.gather(
            *(lane.execute(("GET", f"k{n}")) for n in range(3)), return_exceptions=True
        )
    assert all(isinstance(outcome, RedisConnectionError) for outcome in waiting), waiting
    assert time.monotonic() - started < 1  # failed at once, not at the deadline


async def test_a_closed_lane_fails_what_waits_and_refuses_more(client: Redis) -> None:
    lane = RedisLane(client)
    waiting = asyncio.create_task(lane.execute(("BLPOP", "never", 5)))
    await asyncio.sleep(0.1)
    await lane.aclose()
    with pytest.raises(RedisConnectionError):
        await waiting
    with pytest.raises(RedisConnectionError):
        await lane.execute(("GET", "k"))


def test_only_a_single_server_gets_a_lane_of_its_own() -> None:
    from fakeredis import FakeAsyncRedis

    assert isinstance(lane_for(FakeAsyncRedis()), ClientLane)
