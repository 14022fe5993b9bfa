"""The Redis lane: batches on connections of its own, against a real server. A connection that
errs, times out or is interrupted is never used again with a reply left unread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
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


async def test_connections_are_kept_and_reused(lane: RedisLane) -> None:
    one_after_another = {(await lane.execute(("CLIENT", "ID")))[0] for _ in range(20)}
    assert len(one_after_another) == 1
    at_once = await asyncio.gather(*(lane.execute(("CLIENT", "ID")) for _ in range(50)))
    assert 1 < len({reply[0] for reply in at_once}) <= 16  # the lane's size


async def test_an_error_reply_drops_the_connection_and_its_unread_replies(
    client: Redis, lane: RedisLane
) -> None:
    await client.rpush("a-list", "x")
    await client.mset({"left-behind": b"stale", "k": b"mine"})
    with pytest.raises(ResponseError):
        await lane.execute(("GET", "a-list"), ("GET", "left-behind"))
    assert await lane.execute(("GET", "k")) == [b"mine"]  # not the reply left unread


async def test_a_batch_interrupted_leaves_no_reply_for_the_next(
    client: Redis, lane: RedisLane
) -> None:
    await client.set("k", b"second")
    slow = asyncio.create_task(lane.execute(("BLPOP", "never", 5)))
    await asyncio.sleep(0.1)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await client.rpush("never", "late")  # a reply the cancelled batch would have got
    assert await lane.execute(("GET", "k")) == [b"second"]


async def test_a_connection_killed_while_idle_is_replaced_once(
    client: Redis, lane: RedisLane
) -> None:
    await client.set("k", b"v")
    (idle,) = await lane.execute(("CLIENT", "ID"))
    assert await client.client_kill_filter(_id=idle) == 1
    assert await lane.execute(("GET", "k")) == [b"v"]
    assert await lane.execute(("CLIENT", "ID")) != [idle]


async def test_a_server_that_does_not_answer_times_out() -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(host="127.0.0.1", port=port, socket_timeout=0.3, protocol=2)
    lane = RedisLane(client)
    started = time.monotonic()
    try:
        with pytest.raises(RedisTimeoutError):
            await lane.execute(("GET", "k"))
        assert time.monotonic() - started < 2
    finally:
        done.set()
        await lane.aclose()
        await client.aclose()
        server.close()
        await server.wait_closed()


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


def test_only_a_single_server_gets_a_lane_of_its_own() -> None:
    from fakeredis import FakeAsyncRedis

    assert isinstance(lane_for(FakeAsyncRedis()), ClientLane)
