"""Redis out of reach: each rate limit fails open or closed as its caller chose, and a use
that fails closed is 503 `redis_unavailable`, never a 500.

A real client against a port nobody listens on; the fault suite stops a real Redis under load
(tests/faults/test_redis_restart.py).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tests.support.http import error_code
from wxmember.core import ratelimit
from wxmember.core.config import ServerConfig
from wxmember.core.httplimits import limits_middleware
from wxmember.core.web import error_middleware


@pytest.fixture
async def gone() -> AsyncIterator[Redis]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


class TestRateLimits:
    async def test_a_limit_that_fails_open_lets_the_request_through(self, gone: Redis) -> None:
        await ratelimit.enforce(gone, "k", 1, 60, fail_open=True)

    async def test_a_limit_that_fails_closed_raises(self, gone: Redis) -> None:
        with pytest.raises(RedisError):
            await ratelimit.enforce(gone, "k", 1, 60, fail_open=False)

    async def test_a_reservation_fails_closed(self, gone: Redis) -> None:
        with pytest.raises(RedisError):
            await ratelimit.reserve(gone, "k", 1, 60)

    async def test_giving_a_unit_back_never_fails_the_request(self, gone: Redis) -> None:
        await ratelimit.release(gone, "wxmember:rl:k", 60)


class TestTheAnswer:
    async def test_it_is_503_with_retry_after(self, gone: Redis) -> None:
        async def limited(request: web.Request) -> web.Response:
            await ratelimit.enforce(gone, "k", 1, 60, fail_open=False)
            return web.Response()

        app = web.Application(middlewares=[error_middleware, limits_middleware(ServerConfig())])
        app.router.add_get("/limited", limited)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/limited")
            assert response.status == 503
            assert await error_code(response) == "redis_unavailable"
            assert response.headers["Retry-After"] == "1"
