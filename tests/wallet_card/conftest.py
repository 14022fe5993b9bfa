"""Fixtures for the member card: the mini-program's original id configured, staff sessions,
and the card's API calls."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.wallet_card.kit import MINIAPP_ORIGINAL_ID, PNG
from wxmember.core.context import Services

API = "/admin/api/v1/wallet-card"
DEFINITION: dict[str, Any] = {
    "color": "Color030",
    "title": "测试会员卡",
    "notice": "结账时出示会员码",
    "description": "积分可在商城兑换礼品，每消费1元得1积分。",
    "prerogative": "会员专享折扣与生日礼。",
    "show_points": True,
    "show_tier": True,
    "show_coupons": False,
}


@pytest.fixture
def now(services: Services) -> int:
    """The service's clock, as WeChat's CreateTime."""
    return int(services.clock.now().timestamp())


@pytest.fixture
def settings(settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    settings["miniapp"] = {**settings["miniapp"], "original_id": MINIAPP_ORIGINAL_ID}
    return settings


@pytest.fixture
async def owner(login_as: StaffLogin) -> dict[str, str]:
    return await login_as("owner")


async def upload_logo(client: TestClient, headers: dict[str, str], content: bytes = PNG) -> Any:
    body = {"content_base64": base64.b64encode(content).decode(), "filename": "logo.png"}
    data = io.BytesIO(json.dumps(body).encode())  # a stream: aiohttp warns about large bytes
    headers = headers | {"Content-Type": "application/json"}
    return await client.post(f"{API}/logo", data=data, headers=headers)


async def defined_card(client: TestClient, headers: dict[str, str], **changes: Any) -> Any:
    """Upload the logo and save the definition (which sends the card); the response."""
    response = await upload_logo(client, headers)
    assert response.status == 200, await response.text()
    return await client.put(API, json=DEFINITION | changes, headers=headers)
