"""`wxmember demo`: a sample brand on the embedded defaults, served with a fake WeChat.

The fake WeChat API is mounted at `/fake-wechat/` on the same server and the service's WeChat
clients point at it, so every flow (login, phone number, reminders, customer-service messages)
can be walked through on one machine. `/fake-wechat/_demo/...` hands out the one-time codes that
the real mini-program would get from WeChat, and `/fake-wechat/_fake/sent` lists every message
the service "sent".

The demo runs on the same configuration as `wxmember serve` (`--config FILE`, `$WXMEMBER_CONFIG`
or `./config.toml`, and `WXMEMBER_*` variables: host, port, tokens, keys, ...), except for what
it must change, each announced in one line at start: its own SQLite file, WeChat at its fake, and
the in-process Redis stand-in. Settings left unset get sample values (app ids, secrets, push
tokens), so every endpoint works, including the mini-program push at `/wechat/miniapp`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.clientaddr import ClientAccessLogger
from wxmember.core.config import Config, ensure_local_keys
from wxmember.core.db import apply_migrations
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app
from wxmember.demo import activity
from wxmember.demo.referrals import seed as seed_referrals
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
from wxmember.demo.stores import seed as seed_stores
from wxmember.demo.wallet_card import seed as seed_wallet_card
from wxmember.demo.wallet_card import wallet_routes
from wxmember.runner import running_services
from wxmember.serving import for_serving, new_event_loop

log = logging.getLogger(__name__)

DEMO_MINIAPP = ("wxdemominiapp0001", "demo-miniapp-secret")
DEMO_MINIAPP_TOKEN = "demominiapptoken"
DEMO_MINIAPP_ORIGINAL_ID = "gh_demominiapp01"  # the member card's centre button opens it
DEMO_OFFICIAL = ("wxdemoofficial001", "demo-official-secret")
DEMO_OFFICIAL_TOKEN = "demotoken"
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# Sample values for settings the configuration leaves unset. The mini-program push stays plain
# (no encoding_aes_key), so it can be tried with curl; the Official Account runs in safe mode.
DEMO_SETTINGS: dict[str, dict[str, str]] = {
    "brand": {"name": "茶语会员"},
    "miniapp": {
        "appid": DEMO_MINIAPP[0],
        "secret": DEMO_MINIAPP[1],
        "token": DEMO_MINIAPP_TOKEN,
        "original_id": DEMO_MINIAPP_ORIGINAL_ID,
    },
    "official": {
        "appid": DEMO_OFFICIAL[0],
        "secret": DEMO_OFFICIAL[1],
        "token": DEMO_OFFICIAL_TOKEN,
        "encoding_aes_key": DEMO_AES_KEY,
    },
}
_ANY_ADDRESS = {"", "0.0.0.0", "::"}

# 90 days of members' doings (through the brand above), then the dashboard's figures; then a
# few referrals among the members of those days.
SEEDS: list[Seed] = [
    seed_staff,
    seed_stores,
    seed_tiers,
    seed_mall,
    seed_reminders,
    seed_coupons,
    activity.seed,
    seed_referrals,
]
# Arrangements on the demo's fake WeChat that seeds rely on (templates, grants).
FAKE_SETUPS: list[Callable[[FakeWeChat], None]] = [register_templates, activity.register_followers]


def demo_config(
    loaded: Config, *, host: str | None = None, port: int | None = None, db_path: str
) -> tuple[Config, list[str]]:
    """The demo's config from the one `serve` would use, and a line for each thing it changed.

    `loaded` must come straight from `load_config()`: what it holds explicitly (from the file
    or the environment) is kept; sample values fill only what it leaves unset.
    """
    host = host or loaded.server.host
    port = port or loaded.server.port
    own = host if host not in _ANY_ADDRESS else "127.0.0.1"
    changes: dict[str, dict[str, Any]] = {
        "server": {"host": host, "port": port},
        "database": {"url": f"sqlite://{db_path}"},
        "wechat": {"api_base": f"http://{own}:{port}/fake-wechat"},
    }
    notes = [
        f"demo: database.url = sqlite://{db_path} (the demo's own SQLite file)",
        f"demo: wechat.api_base = http://{own}:{port}/fake-wechat (the demo's fake WeChat)",
    ]
    if loaded.redis.url:
        changes["redis"] = {"url": ""}
        notes.append(
            "demo: redis.url = in-process stand-in (the fake WeChat's tokens stay out of a shared"
            " Redis)"
        )
    filled = []
    for section, values in DEMO_SETTINGS.items():
        explicit = getattr(loaded, section).model_fields_set
        for key, value in values.items():
            if key not in explicit:
                changes.setdefault(section, {})[key] = value
                filled.append(f"{section}.{key}")
    if filled:
        notes.append(f"demo: sample values for settings left unset: {', '.join(filled)}")
    return ensure_local_keys(loaded.replace(**changes)), notes


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


def run_demo(loaded: Config, *, host: str | None, port: int | None, db_path: str) -> int:
    """Seed the demo brand into its own database and serve it with the fake WeChat."""
    config, notes = demo_config(loaded, host=host, port=port, db_path=db_path)
    for note in notes:
        print(note)
    fake = FakeWeChat()
    for app_config in (config.miniapp, config.official):
        if app_config.appid:
            fake.register_app(app_config.appid, app_config.secret.get_secret_value())
    for setup in FAKE_SETUPS:
        setup(fake)
    asyncio.run(_prepare(config, fake))
    fake_app = create_fake_wechat_app(fake)
    fake_app.add_routes(demo_routes(fake))
    fake_app.add_routes(wallet_routes(fake, config))
    app = create_app(config)
    app.add_subapp("/fake-wechat/", fake_app)
    server = config.server
    print(
        f"wxmember demo on http://{server.host}:{server.port}  (database {Path(db_path).resolve()})"
    )
    own = server.host if server.host not in _ANY_ADDRESS else "127.0.0.1"
    print(f"console: http://{own}:{server.port}/console/")
    print(f"staff logins: owner / operator / cashier, password {DEMO_PASSWORD}")
    print("walk-through: see README.md, section 'Demo walk-through'")
    web.run_app(
        for_serving(app),
        host=server.host,
        port=server.port,
        loop=new_event_loop(),
        print=None,
        backlog=server.backlog,
        access_log=logging.getLogger("aiohttp.access") if server.access_log else None,
        access_log_class=ClientAccessLogger,
    )
    return 0


async def _prepare(config: Config, fake: FakeWeChat) -> None:
    await apply_migrations(config)
    async with running_services(config) as app:
        for seed in SEEDS:
            await seed(app[keys.SERVICES])
        # the member card lives at this run's fake WeChat, in memory: created at every start
        await seed_wallet_card(app[keys.SERVICES], fake)
