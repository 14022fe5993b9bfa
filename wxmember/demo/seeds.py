"""The demo brand, seeded through the same handler functions its staff and members use.

Every seed is idempotent (running the demo again adds nothing) and takes the running services,
so rules (the ladder's, the coupon templates', the mall's) are checked exactly as they are for
an operator in the admin API, and every change lands in the audit log under the demo owner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from handlers.coupons.templates import create_template
from handlers.mall.items import ItemCreate, create_item, upload_codes
from handlers.operators.accounts import create_operator
from handlers.tiers.ladder import create_tier, update_tier
from wxmember.core.context import Services
from wxmember.core.inputs import validate
from wxmember.core.models import Operator, Role, Tier
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
from wxmember.core.models.mall import ItemKind, LimitPeriod, MallItem

DEMO_PASSWORD = "demo-password-123"
STAFF = (("owner", Role.OWNER), ("operator", Role.OPERATOR), ("cashier", Role.CASHIER))

Seed = Callable[[Services], Awaitable[None]]


async def demo_owner() -> Operator:
    """The demo's owner account, who makes every other change (created on first use)."""
    owner = await Operator.get_or_none(username="owner")
    return owner or await create_operator("owner", DEMO_PASSWORD, Role.OWNER)


async def seed_staff(services: Services) -> None:
    """Three staff accounts, one per role, all with the demo password."""
    await demo_owner()
    for username, role in STAFF[1:]:
        if not await Operator.exists(username=username):
            await create_operator(username, DEMO_PASSWORD, role)


def _multiplier(percent: int) -> dict[str, Any]:
    return {"title": f"积分 {percent / 100:g} 倍", "kind": "points_multiplier"}


def _birthday(points: int) -> dict[str, Any]:
    return {"title": f"生日礼 {points} 积分", "kind": "birthday_gift", "points": points}


_SHIPPING = {"title": "商城包邮", "kind": "free_shipping", "min_order_fen": 0}
LADDER: list[dict[str, Any]] = [
    {
        "name": "普通会员",
        "level": 0,
        "color": "#6B7280",
        "growth_threshold": 0,
        "retention_threshold": 0,
        "multiplier_percent": 100,
        "benefits": [_multiplier(100), _birthday(50)],
        "upgrade_gift_points": 0,
    },
    {
        "name": "银卡会员",
        "level": 1,
        "color": "#9CA3AF",
        "growth_threshold": 1000,
        "retention_threshold": 800,
        "multiplier_percent": 110,
        "benefits": [_multiplier(110), _birthday(100)],
        "upgrade_gift_points": 100,
    },
    {
        "name": "金卡会员",
        "level": 2,
        "color": "#D4A017",
        "growth_threshold": 5000,
        "retention_threshold": 4000,
        "multiplier_percent": 125,
        "benefits": [_multiplier(125), _birthday(300), _SHIPPING],
        "upgrade_gift_points": 300,
    },
    {
        "name": "钻石会员",
        "level": 3,
        "color": "#3B82F6",
        "growth_threshold": 20000,
        "retention_threshold": 16000,
        "multiplier_percent": 150,
        "benefits": [
            _multiplier(150),
            _birthday(800),
            _SHIPPING,
            {"title": "专属客服", "kind": "text", "description": "会员专线优先接听"},
        ],
        "upgrade_gift_points": 1000,
    },
]


async def seed_ladder() -> None:
    """The four-tier ladder, through the ladder's own rules (the entry tier is updated)."""
    if await Tier.filter(level__gt=0).exists():
        return
    owner = await demo_owner()
    entry = await Tier.filter(level=0).first()
    for rung in LADDER:
        if rung["level"] == 0 and entry is not None:
            await update_tier(owner, entry.id, {k: v for k, v in rung.items() if k != "level"})
        else:
            await create_tier(owner, rung)


async def seed_tiers(services: Services) -> None:
    """The four-tier ladder."""
    await seed_ladder()


async def seed_coupons(services: Services) -> None:
    """Coupon centre: 满50减10, 9折 (capped), a gift for silver and up; a birthday gift to issue."""
    if await CouponTemplate.exists(title="满50减10"):
        return
    owner = await demo_owner()
    upper_tiers = sorted(await Tier.filter(level__gte=1).values_list("level", flat=True))
    templates: list[dict[str, Any]] = [
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
    for values in templates:
        await create_template(services, owner, values)


async def seed_mall(services: Services) -> None:
    """Mall items: a coupon, a physical item and a virtual item with a few codes."""
    if await MallItem.exists():
        return
    owner = await demo_owner()
    template = await create_template(
        services,
        owner,
        {
            "title": "积分兑换 满50减10",
            "kind": CouponKind.CASH,
            "value": 1000,
            "threshold_fen": 5000,
            "valid_days": 30,
            "obtain": Obtain.ISSUED,
            "terms": "积分商城兑换，领取后 30 天内有效。",
        },
    )
    items: list[dict[str, Any]] = [
        {
            "title": "满50减10 优惠券",
            "description": "500 积分兑换一张满 50 减 10 元的优惠券，立即到账。",
            "kind": ItemKind.COUPON,
            "coupon_template_id": template.id,
            "points_price": 500,
            "stock": 1000,
            "limit_period": LimitPeriod.MONTH,
            "limit_count": 5,
            "display_order": 1,
            "active": True,
        },
        {
            "title": "品牌随行杯",
            "description": "350ml 不锈钢随行杯，包邮到家。",
            "images": ["https://example.com/mall/tumbler.jpg"],
            "kind": ItemKind.PHYSICAL,
            "points_price": 3000,
            "stock": 50,
            "limit_count": 1,
            "display_order": 2,
            "active": True,
        },
        {
            "title": "视频会员月卡",
            "description": "兑换后在订单中查看兑换码。",
            "kind": ItemKind.VIRTUAL,
            "points_price": 2000,
            "limit_period": LimitPeriod.MONTH,
            "limit_count": 1,
            "tier_levels": [1, 2, 3],
            "display_order": 3,
            "active": True,
        },
    ]
    for values in items:
        item = await create_item(owner, validate(ItemCreate, values))
        if item.kind == ItemKind.VIRTUAL:
            await upload_codes(owner, item.id, [f"DEMO-VIP-{n:04d}" for n in range(1, 6)])
