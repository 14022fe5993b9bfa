"""The app factory: `create_app(config)` builds the service; each resource has a cleanup context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
from aiohttp import web

from admin.routes import create_admin_app
from bot.routes import create_bot_app
from console.app import create_console_app
from jobs.scheduler import scheduler_ctx
from miniapp_api.routes import create_miniapp_app
from wxmember.apidocs import setup_docs_routes
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.cpu import CpuPool
from wxmember.core.db import open_database
from wxmember.core.httplimits import handler_args, hide_server_version, limits_middleware
from wxmember.core.member_cache import MemberCache
from wxmember.core.metrics import Metrics
from wxmember.core.redis import open_redis
from wxmember.core.redis_lane import lane_for
from wxmember.core.security import DataCipher, TokenSigner
from wxmember.core.shutdown import CLOSE_SECONDS, bounded
from wxmember.core.web import error_middleware, request_context_middleware
from wxmember.core.wechat import WeChatClient
from wxmember.ops import setup_ops_routes

log = logging.getLogger(__name__)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Tortoise for the life of the app; closing its connections is given up on after a bound."""
    database = AsyncExitStack()
    await database.enter_async_context(open_database(app[keys.CONFIG]))
    try:
        yield
    finally:
        await bounded(database.aclose(), CLOSE_SECONDS, "database close")


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    async with open_redis(app[keys.CONFIG]) as client:
        app[keys.REDIS] = client
        app[keys.REDIS_LANE] = lane = lane_for(client)
        try:
            yield
        finally:
            await lane.aclose()


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    timeout = aiohttp.ClientTimeout(total=config.wechat.timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.HTTP] = session
        yield


async def services_ctx(app: web.Application) -> AsyncIterator[None]:
    """Wire the WeChat clients, crypto, the member cache and the pool of worker processes
    that draw card faces once Redis and the HTTP session exist; stop the workers at the end."""
    config = app[keys.CONFIG]
    metrics = app[keys.METRICS]

    def wechat(appid: str, secret: str) -> WeChatClient:
        return WeChatClient(
            session=app[keys.HTTP],
            redis=app[keys.REDIS],
            appid=appid,
            secret=secret,
            api_base=config.wechat.api_base,
            timeout=config.wechat.timeout_seconds,
            network_retries=config.wechat.network_retries,
            on_call=metrics.count_wechat_call,
        )

    app[keys.SERVICES] = Services(
        config=config,
        redis=app[keys.REDIS],
        miniapp=wechat(config.miniapp.appid, config.miniapp.secret.get_secret_value()),
        official=wechat(config.official.appid, config.official.secret.get_secret_value()),
        cipher=DataCipher(config.security),
        tokens=TokenSigner(config.security.secret_key.get_secret_value()),
        lane=app[keys.REDIS_LANE],
        members=MemberCache(app[keys.REDIS_LANE] if config.redis.url else None),
        cpu=CpuPool(config.server.render_processes),
    )
    yield
    await app[keys.SERVICES].cpu.close()


def create_app(config: Config) -> web.Application:
    """Build the whole service for this config; nothing starts until the app does."""
    app = web.Application(
        middlewares=[
            request_context_middleware,
            error_middleware,
            limits_middleware(config.server),
        ],
        client_max_size=config.server.max_body_bytes,
        handler_args=handler_args(config.server),
    )
    app.on_response_prepare.append(hide_server_version)
    app[keys.CONFIG] = config
    app[keys.METRICS] = Metrics()
    app.cleanup_ctx.extend([database_ctx, redis_ctx, http_ctx, services_ctx])
    if config.scheduler.enabled:
        app.cleanup_ctx.append(scheduler_ctx)
    setup_ops_routes(app)
    setup_docs_routes(app)
    app.add_subapp("/api/v1/", create_miniapp_app())
    app.add_subapp("/admin/api/v1/", create_admin_app())
    app.add_subapp("/wechat/", create_bot_app())
    app.add_subapp("/console/", create_console_app())
    return app
