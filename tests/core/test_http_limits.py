"""HTTP limits of a service process: header and body timeouts, sizes, requests at once, `Server`.

Requests that aiohttp's HTTP parser refuses (a request line or a header line over the limit, too
many headers) are answered by aiohttp itself, a plain-text 400, before any middleware of the app
runs: the tests check the status only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.http import error_code
from tests.support.settings import DATA_KEY, PG_URL, SECRET_KEY
from wxmember import serving
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.httplimits import OutageLog

LIMITS = {
    "header_timeout_seconds": 0.5,
    "body_timeout_seconds": 0.5,
    "max_request_line_bytes": 2048,
    "max_header_bytes": 2048,
    "max_headers": 20,
    "max_concurrent_requests": 1,
}


@pytest.fixture
def settings(settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    settings["server"] = dict(LIMITS)
    return settings


async def _connect(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    server = client.server
    return await asyncio.open_connection(server.host, server.port)


async def _slow_post(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A request whose head arrived and whose body stops after a few bytes."""
    reader, writer = await _connect(client)
    writer.write(
        b"POST /api/v1/session HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"code": '
    )
    await writer.drain()
    return reader, writer


class TestServerHeader:
    @pytest.mark.parametrize("path", ["/healthz", "/no-such-page", "/api/v1/card"])
    async def test_names_the_product_without_versions(self, client: TestClient, path: str) -> None:
        response = await client.get(path)
        assert response.headers["Server"] == "wxmember"


class TestSizes:
    async def test_a_header_line_over_the_limit_is_400(self, client: TestClient) -> None:
        assert (await client.get("/healthz", headers={"X-Note": "a" * 1500})).status == 200
        response = await client.get("/healthz", headers={"X-Note": "a" * 3000})
        assert response.status == 400

    async def test_a_request_line_over_the_limit_is_400(self, client: TestClient) -> None:
        assert (await client.get("/healthz?" + "a" * 1500)).status == 200
        assert (await client.get("/healthz?" + "a" * 3000)).status == 400

    async def test_too_many_headers_is_400(self, client: TestClient) -> None:
        headers = {f"X-Note-{n}": "a" for n in range(30)}
        assert (await client.get("/healthz", headers=headers)).status == 400


class TestTimeouts:
    async def test_a_head_that_does_not_arrive_in_time_loses_the_connection(
        self, client: TestClient
    ) -> None:
        reader, writer = await _connect(client)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")  # never finished
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    async def test_a_body_that_does_not_arrive_in_time_is_408(self, client: TestClient) -> None:
        reader, writer = await _slow_post(client)
        answer = await asyncio.wait_for(reader.read(), 5)  # then the server closes
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert b'"code":"request_timeout"' in body


class TestRequestsAtOnce:
    async def test_over_the_cap_is_503_at_once(self, client: TestClient) -> None:
        reader, writer = await _slow_post(client)
        await asyncio.sleep(0.1)  # the slow request is being handled
        busy = await client.get("/healthz")
        assert busy.status == 503
        assert await error_code(busy) == "server_busy"
        assert busy.headers["Retry-After"] == "1"
        await asyncio.wait_for(reader.read(), 5)  # 408: the slow one is over
        writer.close()
        assert (await client.get("/healthz")).status == 200


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's locking")
class TestDatabaseLocked:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["database"]["busy_timeout_seconds"] = 0.2
        return settings

    async def test_a_write_that_finds_it_locked_is_503(
        self, client: TestClient, settings: dict[str, Any], fake_wechat: FakeWeChat
    ) -> None:
        path = settings["database"]["url"].removeprefix("sqlite://")
        other = sqlite3.connect(path, isolation_level=None)  # another process writing
        other.execute("BEGIN IMMEDIATE")
        try:
            code = fake_wechat.issue_login_code("o-locked")
            response = await client.post("/api/v1/session", json={"code": code})
        finally:
            other.close()
        assert response.status == 503
        assert await error_code(response) == "database_busy"
        assert response.headers["Retry-After"] == "1"


class TestOutageLog:
    def test_an_outage_is_a_warning_per_interval_with_the_count_refused_meanwhile(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        now = [100.0]
        outages = OutageLog(interval=10.0, clock=lambda: now[0])
        down = ConnectionRefusedError("connection refused")
        with caplog.at_level(logging.WARNING, logger="wxmember.core.httplimits"):
            for _ in range(500):
                outages.refused("database unavailable", "/api/v1/card", down)
            outages.refused("redis unavailable", "/api/v1/card", down)  # a kind of its own
            now[0] += 10.0
            outages.refused("database unavailable", "/api/v1/checkins")
        lines = [(r.getMessage(), getattr(r, "also_refused", None)) for r in caplog.records]
        assert lines == [
            ("database unavailable", 0),
            ("redis unavailable", 0),
            ("database unavailable", 499),
        ]
        assert caplog.records[0].error == repr(down)  # type: ignore[attr-defined]


class TestGunicornEntry:
    async def test_the_app_for_gunicorn_has_the_same_limits(
        self, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config_file = tmp_path / "config.toml"
        config_file.write_text(
            f'[server]\nmax_header_bytes = 2048\n[database]\nurl = "{database_url}"\n'
            f'[security]\nsecret_key = "{SECRET_KEY}"\ndata_key = "{DATA_KEY}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("WXMEMBER_CONFIG", str(config_file))
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            app = await serving.app()
        finally:  # the worker's logging set-up, undone for the rest of the suite
            root.handlers[:] = handlers
            root.setLevel(level)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/healthz")
            assert response.headers["Server"] == "wxmember"
            response = await client.get("/healthz", headers={"X-Note": "a" * 3000})
            assert response.status == 400
