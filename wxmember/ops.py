"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from wxmember.core import keys
from wxmember.core.db import ping
from wxmember.core.metrics import CONTENT_TYPE_LATEST
from wxmember.core.redis import ping as redis_ping
from wxmember.core.web import json_response

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    """The process is up and serving."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database and Redis both answer; 503 naming the one that does not."""
    checks: dict[str, str] = {}
    redis = request.config_dict[keys.REDIS]
    for name, probe in (("database", ping()), ("redis", redis_ping(redis))):
        try:
            await asyncio.wait_for(probe, READY_TIMEOUT_SECONDS)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is logged
            log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            checks[name] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.config_dict[keys.METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_ops_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
