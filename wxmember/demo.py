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
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from wxmember.config import Config, build_config, ensure_local_keys
from wxmember.db import apply_migrations, open_database
from wxmember.fake_wechat import FakeWeChat, create_fake_wechat_app

log = logging.getLogger(__name__)

DEMO_MINIAPP = ("wxdemominiapp0001", "demo-miniapp-secret")
DEMO_OFFICIAL = ("wxdemoofficial001", "demo-official-secret")
DEMO_OFFICIAL_TOKEN = "demotoken"
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEMO_PASSWORD = "demo-password-123"

Seed = Callable[[Config], Awaitable[None]]


async def seed_staff(config: Config) -> None:
    from handlers.operators import create_operator
    from wxmember.models import Operator, Role

    for username, role in (
        ("owner", Role.OWNER),
        ("operator", Role.OPERATOR),
        ("cashier", Role.CASHIER),
    ):
        if not await Operator.exists(username=username):
            await create_operator(username, DEMO_PASSWORD, role)


async def seed_tiers(config: Config) -> None:
    from wxmember.models import Tier

    if await Tier.exists():
        return
    ladder = [
        ("普通会员", 0, "#6B7280", 0, 0, 100),
        ("银卡会员", 1, "#9CA3AF", 1000, 800, 110),
        ("金卡会员", 2, "#D4A017", 5000, 4000, 125),
        ("钻石会员", 3, "#3B82F6", 20000, 16000, 150),
    ]
    for name, level, color, threshold, retention, multiplier in ladder:
        await Tier.create(
            name=name,
            level=level,
            color=color,
            growth_threshold=threshold,
            retention_threshold=retention,
            multiplier_percent=multiplier,
            benefits=[{"title": f"积分 {multiplier / 100:g} 倍", "kind": "points_multiplier"}],
        )


# Later features append their own seeds here (coupons, mall items, reminder rules).
SEEDS: list[Seed] = [seed_staff, seed_tiers]


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
    from wxmember.app import create_app

    config = demo_config(host, port, db_path)
    asyncio.run(_prepare(config))
    fake = FakeWeChat()
    fake.register_app(*DEMO_MINIAPP)
    fake.register_app(*DEMO_OFFICIAL)
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
    async with open_database(config):
        for seed in SEEDS:
            await seed(config)
