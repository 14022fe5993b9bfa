"""PostgreSQL out of reach: 503 `database_unavailable` with Retry-After, never a 500.

What counts as "out of reach" is decided in one place (`is_database_unavailable`) and rendered
by the limits middleware; the fault suite (tests/faults/test_database_restart.py) stops a real
server under load.
"""

from __future__ import annotations

import socket

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.support.http import error_code
from wxmember.core.config import ServerConfig
from wxmember.core.db import is_database_unavailable
from wxmember.core.httplimits import limits_middleware
from wxmember.core.web import error_middleware


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _refused_by_asyncpg() -> BaseException:
    try:
        await asyncpg.connect(host="127.0.0.1", port=_closed_port(), user="x", timeout=2)
    except Exception as exc:
        return exc
    raise AssertionError("connected to a closed port")


class TestWhatCounts:
    @pytest.mark.parametrize(
        "error",
        [
            asyncpg.AdminShutdownError("terminating connection due to administrator command"),
            asyncpg.CannotConnectNowError("the database system is starting up"),
            asyncpg.CrashShutdownError("crash"),
            asyncpg.TooManyConnectionsError("too many clients already"),
            asyncpg.ConnectionDoesNotExistError("connection was closed"),
            asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
            asyncpg.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            ),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_the_servers_and_the_connections_failures_count(self, error: Exception) -> None:
        assert is_database_unavailable(error)

    async def test_a_refused_connection_counts_when_asyncpg_met_it(self) -> None:
        assert is_database_unavailable(await _refused_by_asyncpg())

    async def test_the_cause_of_a_wrapping_error_counts(self) -> None:
        try:
            try:
                raise asyncpg.AdminShutdownError("terminating connection")
            except asyncpg.PostgresError as exc:
                raise RuntimeError("the request failed") from exc
        except RuntimeError as wrapped:
            assert is_database_unavailable(wrapped)

    @pytest.mark.parametrize(
        "error",
        [
            ConnectionRefusedError("WeChat refused"),
            TimeoutError("Redis did not answer"),
            asyncpg.UniqueViolationError("duplicate key"),
            asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
            ValueError("a bug"),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_other_failures_do_not(self, error: Exception) -> None:
        assert not is_database_unavailable(error)


class TestTheAnswer:
    async def test_it_is_503_with_retry_after(self) -> None:
        async def broken(request: web.Request) -> web.Response:
            raise asyncpg.AdminShutdownError("terminating connection")

        async def bug(request: web.Request) -> web.Response:
            raise asyncpg.UniqueViolationError("duplicate key")

        app = web.Application(middlewares=[error_middleware, limits_middleware(ServerConfig())])
        app.router.add_get("/broken", broken)
        app.router.add_get("/bug", bug)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/broken")
            assert response.status == 503
            assert await error_code(response) == "database_unavailable"
            assert response.headers["Retry-After"] == "1"
            assert (await client.get("/bug")).status == 500
