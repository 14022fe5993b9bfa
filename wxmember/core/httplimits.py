"""HTTP limits of one service process, set from `[server]` for `wxmember serve` and gunicorn alike.

`create_app` applies them, so every way of running the app gets the same:

- `handler_args(server)`: aiohttp's connection settings. `keepalive_timeout` is the header
  timeout too: a connection that has not sent a complete request head this long after it opened
  (or after its previous response) is closed. Request lines and header lines longer than the
  limits, or more headers than allowed, are refused by aiohttp's HTTP parser with a plain-text
  400 before any middleware runs: the app cannot render those as JSON (README, production).
- `limits_middleware(server)`: the body must arrive within `body_timeout_seconds` of the head
  (else 408 `request_timeout` and the connection is closed), and at most
  `max_concurrent_requests` requests are handled at once (else 503 `server_busy` at once, with
  `Retry-After`), so a burst queues in the proxy instead of piling up in the process.
  A request that finds the database locked beyond `database.busy_timeout_seconds` (SQLite
  beside a job in another process) is 503 `database_busy` with `Retry-After`, not a 500; one
  that finds PostgreSQL unreachable (down, restarting, out of connections, the connection
  broken under it, or not connected within `database.connect_timeout_seconds`) is 503
  `database_unavailable`. The pool opens new connections by itself once the server is back.
  A use of Redis that fails closed (README: production, "Without Redis") is 503
  `redis_unavailable`. Each kind is logged once when it begins and then at most once every
  `OUTAGE_LOG_SECONDS` with the count refused meanwhile: an outage under load is a few lines
  in the log, not one per request.
- `hide_server_version`: the `Server` header names the product without versions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Middleware
from redis.exceptions import RedisError

from wxmember.core.config import ServerConfig
from wxmember.core.db import is_database_locked, is_database_unavailable
from wxmember.core.web import Handler, error_body, json_response

log = logging.getLogger(__name__)

SERVER_HEADER = "wxmember"
RETRY_AFTER = {"Retry-After": "1"}


class BodyReadTimeout(TimeoutError):
    """The request body did not arrive in time (set on the request's stream by the timer).

    A TimeoutError, so that aiohttp's lingering read after the response gives up quietly and
    closes the connection.
    """


OUTAGE_LOG_SECONDS = 10.0


class OutageLog:
    """Warnings about refused requests, one per kind and interval, with how many were refused."""

    def __init__(
        self, interval: float = OUTAGE_LOG_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def refused(self, message: str, path: str, error: BaseException | None = None) -> None:
        now = self._clock()
        last = self._last.get(message)
        if last is not None and now - last < self._interval:
            self._quiet[message] = self._quiet.get(message, 0) + 1
            return
        extra: dict[str, Any] = {"path": path, "also_refused": self._quiet.pop(message, 0)}
        if error is not None:
            extra["error"] = repr(error)
        self._last[message] = now
        log.warning(message, extra=extra)


def handler_args(server: ServerConfig) -> dict[str, Any]:
    """aiohttp's per-connection settings (`web.Application(handler_args=...)`)."""
    return {
        "keepalive_timeout": server.header_timeout_seconds,
        "max_line_size": server.max_request_line_bytes,
        "max_field_size": server.max_header_bytes,
        "max_headers": server.max_headers,
    }


def _expire(stream: StreamReader) -> None:
    if not stream.is_eof():
        stream.set_exception(BodyReadTimeout())


def limits_middleware(server: ServerConfig) -> Middleware:
    """The body read timeout and the cap on requests handled at once, for one process."""
    in_flight = 0
    outages = OutageLog()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= server.max_concurrent_requests:
            return json_response(
                error_body("server_busy", "The service is busy; try again in a moment."),
                status=503,
                headers=RETRY_AFTER,
            )
        in_flight += 1
        timer = None
        if not request.content.is_eof():
            loop = asyncio.get_running_loop()
            timer = loop.call_later(server.body_timeout_seconds, _expire, request.content)
        try:
            return await handler(request)
        except BodyReadTimeout:
            response = json_response(
                error_body("request_timeout", "The request body did not arrive in time."),
                status=408,
            )
            response.force_close()
            return response
        except Exception as exc:
            if is_database_locked(exc):
                outages.refused("database is locked", request.path)
                code = "database_busy"
            elif is_database_unavailable(exc):
                outages.refused("database unavailable", request.path, exc)
                code = "database_unavailable"
            elif isinstance(exc, RedisError):
                outages.refused("redis unavailable", request.path, exc)
                code = "redis_unavailable"
            else:
                raise
            return json_response(
                error_body(code, "The service is busy; try again in a moment."),
                status=503,
                headers=RETRY_AFTER,
            )
        finally:
            in_flight -= 1
            if timer is not None:
                timer.cancel()

    return middleware


async def hide_server_version(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: aiohttp's default `Server` header names Python's and its versions."""
    response.headers["Server"] = SERVER_HEADER
