"""Fixtures for the WeChat client and fake server tests.

The fake WeChat server comes from the suite's ``fake_wechat`` / ``fake_wechat_server``
fixtures; here it also learns this package's app and templates. Redis is fakeredis unless
``WXMEMBER_TEST_REDIS_URL`` names a real server (flushed first by ``flushed_redis``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import fakeredis
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.wechat import WeChatClient

APPID = "wx0123456789abcdef"
SECRET = "s3cret-7f1c9a0b2d4e6f8a"

RedisFactory = Callable[[], aioredis.Redis]
ClientFactory = Callable[..., WeChatClient]


@pytest.fixture
def appid() -> str:
    return APPID


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def token_key() -> str:
    """Where the client caches the access token in Redis."""
    return f"wxmember:wechat:token:{APPID}"


@pytest.fixture
def fake(fake_wechat: FakeWeChat) -> FakeWeChat:
    """The suite's fake WeChat server state, knowing this package's app."""
    fake_wechat.register_app(APPID, SECRET)
    return fake_wechat


@pytest.fixture
def api_base(fake_wechat_server: TestServer) -> str:
    return f"http://{fake_wechat_server.host}:{fake_wechat_server.port}"


@pytest.fixture
async def redis_factory(flushed_redis: None) -> AsyncIterator[RedisFactory]:
    """Makes Redis clients that all reach the same server, as separate processes would."""
    url = os.environ.get("WXMEMBER_TEST_REDIS_URL")
    server = fakeredis.FakeServer()
    clients: list[aioredis.Redis] = []

    def make() -> aioredis.Redis:
        client: aioredis.Redis = (
            aioredis.from_url(url) if url else fakeredis.FakeAsyncRedis(server=server)
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def redis(redis_factory: RedisFactory) -> aioredis.Redis:
    return redis_factory()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(
    fake: FakeWeChat, http: aiohttp.ClientSession, redis: aioredis.Redis, api_base: str
) -> ClientFactory:
    """Builds clients against the fake server; keyword arguments override the defaults."""

    def make(**overrides: Any) -> WeChatClient:
        options: dict[str, Any] = {
            "session": http,
            "redis": redis,
            "appid": APPID,
            "secret": SECRET,
            "api_base": api_base,
            "timeout": 2.0,
            "network_retries": 2,
            "backoff": 0.0,
        }
        options.update(overrides)
        return WeChatClient(**options)

    return make


@pytest.fixture
def wechat(make_client: ClientFactory) -> WeChatClient:
    return make_client()
