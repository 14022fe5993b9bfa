"""Fixtures for subscribe-message grants: the mini-program push keyed and a member to grant."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member
from tests.support.wechat_push import MINIAPP_AES_KEY, MINIAPP_TOKEN, MiniappPusher
from wxmember.core.config import Config
from wxmember.core.models import Member

MEMBER_OPENID = "oMiniapp-member-0001"


@pytest.fixture
def miniapp_push_settings() -> dict[str, Any]:
    """The mini-program's push settings; a test class may redefine them (e.g. no AES key)."""
    return {"token": MINIAPP_TOKEN, "encoding_aes_key": MINIAPP_AES_KEY}


@pytest.fixture
def settings(
    settings: dict[str, dict[str, Any]], miniapp_push_settings: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    settings["miniapp"] |= miniapp_push_settings
    return settings


@pytest.fixture
def miniapp_pusher(client: TestClient, config: Config) -> MiniappPusher:
    return MiniappPusher(client, config)


@pytest.fixture
async def member(client: TestClient) -> Member:
    return await create_member(openid=MEMBER_OPENID)
