"""Member flows through the real HTTP API, shared by the member and card tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import entry_tier
from tests.support.http import bearer
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Tier

ENTRY_COLOR = "#6B7280"
GOLD_COLOR = "#D4A017"


async def seed_tiers() -> tuple[Tier, Tier]:
    """An entry tier and a gold tier above it."""
    entry = await entry_tier(name="普通会员", color=ENTRY_COLOR)
    gold = await Tier.create(name="金卡会员", level=2, color=GOLD_COLOR, growth_threshold=5000)
    return entry, gold


async def login(
    client: TestClient, fake_wechat: FakeWeChat, openid: str = "o-member-1", **kwargs: Any
) -> dict[str, Any]:
    """Log in as the WeChat user `openid`; the login response body."""
    code = fake_wechat.issue_login_code(openid, **kwargs)
    response = await client.post("/api/v1/session", json={"code": code})
    assert response.status == 200, await response.text()
    return await response.json()


async def login_headers(
    client: TestClient, fake_wechat: FakeWeChat, openid: str = "o-member-1"
) -> dict[str, str]:
    return bearer((await login(client, fake_wechat, openid))["token"])


async def open_card(
    client: TestClient,
    headers: dict[str, str],
    name: str = "张三",
    birthday: str = "1990-05-17",
    **extra: Any,
) -> dict[str, Any]:
    """Open the card; the card view."""
    response = await client.post(
        "/api/v1/card", json={"name": name, "birthday": birthday, **extra}, headers=headers
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def cardholder(
    client: TestClient,
    fake_wechat: FakeWeChat,
    openid: str = "o-member-1",
    phone: str | None = None,
    country_code: str = "86",
    **card: Any,
) -> tuple[dict[str, str], dict[str, Any]]:
    """A logged-in member with an open card (and a phone number if given): headers, card."""
    headers = await login_headers(client, fake_wechat, openid)
    if phone is not None:
        card["phone_code"] = fake_wechat.issue_phone_code(phone, country_code, openid=openid)
    return headers, await open_card(client, headers, **card)
