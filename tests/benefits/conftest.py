"""Fixtures of the tier benefit tests: a frozen Shanghai clock, a gold tier with a birthday gift
and monthly coupons, members placed in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member
from tests.support.localtime import freeze, local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain

# 2026-05-17 09:00 in Shanghai; 2026 is not a leap year.
NOW = local(2026, 5, 17, 9, 0)
BIRTHDAY_POINTS = 188

MemberIn = Callable[..., Awaitable[Member]]


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


async def coupon_template(title: str, **values: Any) -> CouponTemplate:
    return await CouponTemplate.create(
        title=title,
        kind=CouponKind.CASH,
        value=1000,
        threshold_fen=5000,
        obtain=Obtain.ISSUED,
        valid_days=30,
        **values,
    )


@pytest.fixture
async def gift_template(client: TestClient) -> CouponTemplate:
    return await coupon_template("生日券")


@pytest.fixture
async def monthly_template(client: TestClient) -> CouponTemplate:
    return await coupon_template("月度券")


@pytest.fixture
async def gold(
    client: TestClient, gift_template: CouponTemplate, monthly_template: CouponTemplate
) -> Tier:
    """A tier above the entry tier with a birthday gift (points and a coupon) and a pack of two
    coupons every month."""
    return await Tier.create(
        name="金卡会员",
        level=1,
        growth_threshold=1000,
        color="#D4A017",
        benefits=[
            {
                "title": "生日礼",
                "kind": "birthday_gift",
                "points": BIRTHDAY_POINTS,
                "coupon_template_id": gift_template.id,
            },
            {
                "title": "每月券包",
                "kind": "monthly_coupons",
                "coupons": [{"template_id": monthly_template.id, "count": 2}],
            },
        ],
    )


@pytest.fixture
def member_in(clock: FrozenClock) -> MemberIn:
    """A member with a card, in `tier` (default: the entry tier), born on `birthday`."""

    async def make(tier: Tier | None = None, birthday: date | None = date(1990, 5, 17)) -> Member:
        member = await create_member(birthday=birthday)
        if tier is not None:
            await Member.filter(id=member.id).update(tier_id=tier.id)
            await member.refresh_from_db()
        return member

    return make
