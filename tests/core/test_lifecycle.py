"""The app starts, serves its operations endpoints and stops leaving nothing behind."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from tortoise.context import get_current_context

from tests.support.http import error_code
from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.serving import YOUNG_GENERATION_THRESHOLD, for_serving, settle_startup_heap


class TestLifecycle:
    async def test_start_and_stop_leave_no_connection_or_task(self, config: Config) -> None:
        before = set(asyncio.all_tasks())
        app = create_app(config.replace(scheduler={"enabled": True}))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/readyz")).status == 200
            session = app[keys.HTTP]
            redis = app[keys.REDIS]
        await asyncio.sleep(0)
        assert session.closed
        assert isinstance(redis, Redis)
        assert not redis.connection_pool._in_use_connections
        context = get_current_context()
        assert context is None or context._connections is None, "database left open"
        gc.collect()
        leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
        assert leftover == set()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


class TestServingHeap:
    async def test_startup_heap_frozen_and_young_collections_rarer(self, config: Config) -> None:
        app = for_serving(create_app(config))
        assert gc.get_freeze_count() == 0
        async with TestClient(TestServer(app)) as client:
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
            # what startup made is out of every generation a collection walks
            services = app[keys.SERVICES]
            assert not any(o is services for o in gc.get_objects())
            assert (await client.get("/healthz")).status == 200

            cycle = _Cycle()
            gone = weakref.ref(cycle)
            del cycle
            gc.collect()
            assert gone() is None, "a cycle made after startup is still collected"

    async def test_gunicorn_workers_settle_their_heap(
        self, config: Config, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from wxmember import serving

        monkeypatch.setattr(serving, "setup_logging", lambda level: None)
        monkeypatch.setattr(serving, "load_config", lambda: config)
        app = await serving.app()
        assert settle_startup_heap in app.on_startup


class TestOpsEndpoints:
    async def test_healthz(self, client: TestClient) -> None:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
        assert response.headers["X-Request-Id"]

    async def test_readyz_names_the_broken_dependency(self, client: TestClient) -> None:
        redis = client.app[keys.REDIS]
        await redis.aclose()

        async def broken_ping() -> None:
            raise ConnectionError("redis down")

        redis.ping = broken_ping
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["checks"] == {"database": "ok", "redis": "unavailable"}

    async def test_metrics_count_requests_by_route(self, client: TestClient) -> None:
        for _ in range(3):
            await client.get("/healthz")
        await client.get("/no-such-page")
        text = await (await client.get("/metrics")).text()
        assert (
            'wxmember_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in text
        )
        assert 'route="unmatched",status="404"} 1.0' in text
        assert 'wxmember_http_request_seconds_count{route="/healthz"} 3.0' in text
        assert "wxmember_wechat_api_calls" in text

    async def test_request_id_from_proxy_is_kept(self, client: TestClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-Id": "abcdef123456"})
        assert response.headers["X-Request-Id"] == "abcdef123456"
        response = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
        assert response.headers["X-Request-Id"] != "bad id with spaces"

    async def test_unknown_route_is_json_404(self, client: TestClient) -> None:
        response = await client.get("/api/v1/nothing-here")
        assert response.status == 404
        assert await error_code(response) == "not_found"

    async def test_unexpected_error_is_500_with_request_id_only(
        self, config: Config, aiohttp_client: Callable[..., Awaitable[TestClient]]
    ) -> None:
        app = create_app(config)

        async def boom(request: web.Request) -> web.Response:
            raise RuntimeError("secret internals: password=hunter2")

        app.router.add_get("/boom", boom)
        client = await aiohttp_client(app)
        response = await client.get("/boom")
        assert response.status == 500
        body = await response.json()
        assert body["error"]["code"] == "internal_error"
        assert body["error"]["request_id"] == response.headers["X-Request-Id"]
        assert "hunter2" not in await response.text()
