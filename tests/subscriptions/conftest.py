"""Fixtures for subscribe-message grants: both pushes keyed, and members to grant."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member
from tests.support.wechat_push import MINIAPP_AES_KEY, MINIAPP_TOKEN, MiniappPusher, OfficialPusher
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.models import Member

MEMBER_OPENID = "oMiniapp-member-0001"
FOLLOWER_OPENID = "oOfficial-follower-0001"


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


@pytest.fixture
def official_pusher(client: TestClient, config: Config, services: Services) -> OfficialPusher:
    """Pushes to the Official Account webhook (safe mode) at the service's time."""
    return OfficialPusher(client, config, clock=lambda: services.clock.now().timestamp())


@pytest.fixture
async def follower_member(client: TestClient) -> Member:
    """A member whose Official Account follower (`FOLLOWER_OPENID`) is linked."""
    member = await create_member(openid="oMiniapp-member-0002")
    member.official_openid = FOLLOWER_OPENID
    await member.save(update_fields=["official_openid"])
    return member
