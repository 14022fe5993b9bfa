"""`wxmember demo`: a sample brand on the embedded defaults, served with a fake WeChat.

The fake WeChat API is mounted at `/fake-wechat/` on the same server and the service's WeChat
clients point at it, so every flow (login, phone number, reminders, customer-service messages)
can be walked through on one machine. `/fake-wechat/_demo/...` hands out the one-time codes that
the real mini-program would get from WeChat, and `/fake-wechat/_fake/sent` lists every message
the service "sent".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.config import Config, build_config, ensure_local_keys
from wxmember.core.db import apply_migrations
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app
from wxmember.demo.reminders import register_templates
from wxmember.demo.reminders import seed as seed_reminders
from wxmember.demo.seeds import (
    DEMO_PASSWORD,
    Seed,
    seed_coupons,
    seed_mall,
    seed_staff,
    seed_tiers,
)
from wxmember.runner import running_services

log = logging.getLogger(__name__)

DEMO_MINIAPP = ("wxdemominiapp0001", "demo-miniapp-secret")
DEMO_OFFICIAL = ("wxdemoofficial001", "demo-official-secret")
DEMO_OFFICIAL_TOKEN = "demotoken"
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

SEEDS: list[Seed] = [seed_staff, seed_tiers, seed_mall, seed_reminders, seed_coupons]
# Arrangements on the demo's fake WeChat that seeds rely on (templates, grants).
FAKE_SETUPS: list[Callable[[FakeWeChat], None]] = [register_templates]


def demo_config(host: str, port: int, db_path: str) -> Config:
    return ensure_local_keys(
        build_config(
            {
                "server": {"host": host, "port": port},
                "database": {"url": f"sqlite://{db_path}"},
                "brand": {"name": "茶语会员", "timezone": "Asia/Shanghai"},
                "miniapp": {"appid": DEMO_MINIAPP[0], "secret": DEMO_MINIAPP[1]},
                "official": {
                    "appid": DEMO_OFFICIAL[0],
                    "secret": DEMO_OFFICIAL[1],
                    "token": DEMO_OFFICIAL_TOKEN,
                    "encoding_aes_key": DEMO_AES_KEY,
                    "mode": "safe",
                },
                "wechat": {"api_base": f"http://{host}:{port}/fake-wechat"},
            }
        )
    )


def demo_routes(fake: FakeWeChat) -> web.RouteTableDef:
    """Endpoints that stand in for the WeChat client app: they hand out one-time codes."""
    routes = web.RouteTableDef()

    @routes.post("/_demo/login-code")
    async def login_code(request: web.Request) -> web.Response:
        body = await request.json()
        openid = str(body.get("openid") or "demo-openid-1")
        unionid = body.get("unionid")
        return web.json_response({"code": fake.issue_login_code(openid, unionid=unionid)})

    @routes.post("/_demo/phone-code")
    async def phone_code(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"code": fake.issue_phone_code(str(body.get("phone")))})

    @routes.post("/_demo/subscribe-grant")
    async def subscribe_grant(request: web.Request) -> web.Response:
        body = await request.json()
        fake.grant_subscription(str(body["openid"]), str(body["template_id"]))
        return web.json_response({"ok": True})

    return routes


def run_demo(host: str, port: int, db_path: str) -> int:
    config = demo_config(host, port, db_path)
    asyncio.run(_prepare(config))
    fake = FakeWeChat()
    fake.register_app(*DEMO_MINIAPP)
    fake.register_app(*DEMO_OFFICIAL)
    for setup in FAKE_SETUPS:
        setup(fake)
    fake_app = create_fake_wechat_app(fake)
    fake_app.add_routes(demo_routes(fake))
    app = create_app(config)
    app.add_subapp("/fake-wechat/", fake_app)
    print(f"wxmember demo on http://{host}:{port}  (database {Path(db_path).resolve()})")
    print(f"staff logins: owner / operator / cashier, password {DEMO_PASSWORD}")
    print("walk-through: see README.md, section 'Demo walk-through'")
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


async def _prepare(config: Config) -> None:
    await apply_migrations(config)
    async with running_services(config) as app:
        for seed in SEEDS:
            await seed(app[keys.SERVICES])
