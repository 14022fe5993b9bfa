"""The latency probe the harness runs beside a load: what it counts and how it stops."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.probe import probe_for, probe_until


def _app(stall_every: int, stall_seconds: float) -> web.Application:
    seen = 0

    async def fine(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if stall_every and seen % stall_every == 0:
            time.sleep(stall_seconds)  # the event loop held, as a face drawn on it would
        return web.Response(text="ok")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/healthz", fine)
    app.router.add_get("/broken", broken)
    return app


async def test_a_stalled_loop_shows_in_the_tail_not_the_median() -> None:
    async with TestServer(_app(stall_every=5, stall_seconds=0.1)) as server:
        result = await probe_for(str(server.make_url("/healthz")), 0.6, interval=0.0)
    assert result.requests >= 5
    assert result.errors == 0
    assert result.p50_ms < 100 <= result.max_ms
    assert result.p99_ms == result.max_ms  # under 100 samples the 99th is the slowest


async def test_answers_other_than_200_and_refused_connections_are_errors() -> None:
    async with TestServer(_app(stall_every=0, stall_seconds=0)) as server:
        broken = await probe_for(str(server.make_url("/broken")), 0.2, interval=0.01)
        port = server.port
    assert broken.requests > 0 and broken.errors == broken.requests
    gone = await probe_for(f"http://127.0.0.1:{port}/healthz", 0.1, interval=0.01)
    assert gone.requests > 0 and gone.errors == gone.requests


async def test_stops_when_told() -> None:
    async with TestServer(_app(stall_every=0, stall_seconds=0)) as server:
        stop = asyncio.Event()
        probing = asyncio.create_task(probe_until(str(server.make_url("/healthz")), stop, 0.5))
        await asyncio.sleep(0.05)
        stop.set()
        result = await asyncio.wait_for(probing, 1.0)
    assert result.requests == 1
