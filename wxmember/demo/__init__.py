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

from wxmember.core.config import Config, build_config, ensure_local_keys
from wxmember.core.db import apply_migrations, open_database
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app

log = logging.getLogger(__name__)

DEMO_MINIAPP = ("wxdemominiapp0001", "demo-miniapp-secret")
DEMO_OFFICIAL = ("wxdemoofficial001", "demo-official-secret")
DEMO_OFFICIAL_TOKEN = "demotoken"
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEMO_PASSWORD = "demo-password-123"

Seed = Callable[[Config], Awaitable[None]]


async def seed_staff(config: Config) -> None:
    from handlers.operators.accounts import create_operator
    from wxmember.core.models import Operator, Role

    for username, role in (
        ("owner", Role.OWNER),
        ("operator", Role.OPERATOR),
        ("cashier", Role.CASHIER),
    ):
        if not await Operator.exists(username=username):
            await create_operator(username, DEMO_PASSWORD, role)


async def seed_tiers(config: Config) -> None:
    """A four-tier ladder with its benefits, checked by the same rules as the admin API."""
    from handlers.tiers.ladder import Rung, parse_benefits, validate_ladder
    from wxmember.core.models import Tier

    if await Tier.exists():
        return

    def multiplier(percent: int) -> dict[str, object]:
        return {"title": f"积分 {percent / 100:g} 倍", "kind": "points_multiplier"}

    def birthday(points: int) -> dict[str, object]:
        return {"title": f"生日礼 {points} 积分", "kind": "birthday_gift", "points": points}

    shipping = {"title": "商城包邮", "kind": "free_shipping", "min_order_fen": 0}
    ladder = [
        Rung("普通会员", 0, "#6B7280", 0, 0, 100, [multiplier(100), birthday(50)], 0),
        Rung("银卡会员", 1, "#9CA3AF", 1000, 800, 110, [multiplier(110), birthday(100)], 100),
        Rung(
            "金卡会员",
            2,
            "#D4A017",
            5000,
            4000,
            125,
            [multiplier(125), birthday(300), shipping],
            300,
        ),
        Rung(
            "钻石会员",
            3,
            "#3B82F6",
            20000,
            16000,
            150,
            [
                multiplier(150),
                birthday(800),
                shipping,
                {"title": "专属客服", "kind": "text", "description": "会员专线优先接听"},
            ],
            1000,
        ),
    ]
    validate_ladder(ladder)
    for rung in ladder:
        await Tier.create(**rung.values() | {"benefits": parse_benefits(rung.benefits)})


async def seed_mall(config: Config) -> None:
    """Mall items: a coupon, a physical item and a virtual item with a few codes."""
    from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
    from wxmember.core.models.mall import ItemKind, LimitPeriod, MallCode, MallItem

    if await MallItem.exists():
        return
    template = await CouponTemplate.create(
        title="积分兑换 满50减10",
        kind=CouponKind.CASH,
        value=1000,
        threshold_fen=5000,
        valid_days=30,
        obtain=Obtain.ISSUED,
        terms="积分商城兑换，领取后 30 天内有效。",
    )
    await MallItem.create(
        title="满50减10 优惠券",
        description="500 积分兑换一张满 50 减 10 元的优惠券，立即到账。",
        kind=ItemKind.COUPON,
        coupon_template_id=template.id,
        points_price=500,
        stock=1000,
        limit_period=LimitPeriod.MONTH,
        limit_count=5,
        display_order=1,
        active=True,
    )
    await MallItem.create(
        title="品牌随行杯",
        description="350ml 不锈钢随行杯，包邮到家。",
        images=["https://example.com/mall/tumbler.jpg"],
        kind=ItemKind.PHYSICAL,
        points_price=3000,
        stock=50,
        limit_count=1,
        display_order=2,
        active=True,
    )
    virtual = await MallItem.create(
        title="视频会员月卡",
        description="兑换后在订单中查看兑换码。",
        kind=ItemKind.VIRTUAL,
        points_price=2000,
        limit_period=LimitPeriod.MONTH,
        limit_count=1,
        tier_levels=[1, 2, 3],
        display_order=3,
        active=True,
    )
    codes = [f"DEMO-VIP-{n:04d}" for n in range(1, 6)]
    await MallCode.bulk_create([MallCode(item_id=virtual.id, code=code) for code in codes])
    await MallItem.filter(id=virtual.id).update(stock=len(codes))


async def seed_reminder_rules(config: Config) -> None:
    """One reminder rule of each kind, and a member whose birthday greeting goes out at start."""
    from wxmember.demo.reminders import seed

    await seed(config)


def register_reminder_templates(fake: FakeWeChat) -> None:
    from wxmember.demo.reminders import register_templates

    register_templates(fake)


async def seed_coupons(config: Config) -> None:
    """Coupon centre: 满50减10, 9折 (capped), a gift for silver and up; a birthday gift to issue."""
    from wxmember.core.models import Tier
    from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain

    if await CouponTemplate.exists(title="满50减10"):
        return
    upper_tiers = sorted(await Tier.filter(level__gte=1).values_list("level", flat=True))
    templates = [
        {
            "title": "满50减10",
            "kind": CouponKind.CASH,
            "value": 1000,
            "threshold_fen": 5000,
            "total_stock": 500,
            "per_member_limit": 1,
            "valid_days": 30,
            "terms": "全场通用，领取后 30 天内有效，不与其他优惠同享。",
        },
        {
            "title": "9折券",
            "kind": CouponKind.DISCOUNT,
            "value": 10,
            "max_discount_fen": 2000,
            "per_member_limit": 2,
            "valid_days": 7,
            "terms": "全场 9 折，最高减 20 元，领取后 7 天内有效。",
        },
        {
            "title": "赠饮一杯",
            "kind": CouponKind.GIFT,
            "threshold_fen": 3000,
            "total_stock": 200,
            "per_member_limit": 1,
            "valid_days": 14,
            "eligible_tiers": upper_tiers,
            "terms": "银卡及以上会员，单笔满 30 元赠招牌饮品一杯。",
        },
        {
            "title": "生日礼券 满100减30",
            "kind": CouponKind.CASH,
            "value": 3000,
            "threshold_fen": 10000,
            "valid_days": 30,
            "obtain": Obtain.ISSUED,
            "terms": "生日当月发放，30 天内有效。",
        },
    ]
    for fields in templates:
        await CouponTemplate.create(**fields, remaining=fields.get("total_stock"))


# Later features append their own seeds here (coupons, mall items, reminder rules).
SEEDS: list[Seed] = [seed_staff, seed_tiers, seed_mall, seed_reminder_rules, seed_coupons]
# Arrangements on the demo's fake WeChat that seeds rely on (templates, grants).
FAKE_SETUPS: list[Callable[[FakeWeChat], None]] = [register_reminder_templates]


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
    async with open_database(config):
        for seed in SEEDS:
            await seed(config)
