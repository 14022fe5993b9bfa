"""Referral builders: the settings row, referrers with their code, invitees opening a card."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from handlers.referrals import code_for
from tests.factories import create_member
from tests.members.flows import login_headers
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
from wxmember.core.models.referrals import ReferralSettings


async def referral_settings(**values: Any) -> ReferralSettings:
    """Referrals on: 100 points to the referrer, 50 to the invitee, at card opening."""
    fields: dict[str, Any] = {
        "enabled": True,
        "reward_on": "card_opening",
        "referrer_points": 100,
        "invitee_points": 50,
        "monthly_limit": 10,
        "version": 1,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    } | values
    await ReferralSettings.filter(id=1).delete()
    return await ReferralSettings.create(id=1, **fields)


async def referrer(services: Services, **fields: Any) -> tuple[Member, str]:
    """A card holder and their share code."""
    member = await create_member(**fields)
    return member, await code_for(services, member)


async def coupon_template(title: str = "邀请礼券", stock: int | None = None) -> CouponTemplate:
    return await CouponTemplate.create(
        title=title,
        kind=CouponKind.CASH,
        value=1000,
        threshold_fen=5000,
        obtain=Obtain.ISSUED,
        valid_days=30,
        total_stock=stock,
        remaining=stock,
    )


async def open_with_code(
    client: TestClient,
    headers: dict[str, str],
    code: str | None,
    **extra: Any,
) -> tuple[int, Any]:
    """Open the card with a share code: the status and the answer."""
    body: dict[str, Any] = {"name": "李四", "birthday": "1992-03-04", **extra}
    if code is not None:
        body["referral_code"] = code
    response = await client.post("/api/v1/card", json=body, headers=headers)
    return response.status, await response.json()


async def invitee(
    client: TestClient, fake_wechat: FakeWeChat, openid: str, code: str, **extra: Any
) -> Member:
    """A new WeChat user who opens their card with the code (201 expected)."""
    headers = await login_headers(client, fake_wechat, openid)
    status, body = await open_with_code(client, headers, code, **extra)
    assert status == 201, body
    return await Member.get(openid=openid)
