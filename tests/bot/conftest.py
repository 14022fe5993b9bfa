"""Fixtures for the Official Account bot.

`bot_settings` holds per-test config overrides (a test class redefines it); the WeChat side is
driven with `tests.support.wechat_push`.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member
from wxmember.core.models import Member

BOUND_OPENID = "oOfficial-bound-0001"
UNBOUND_OPENID = "oOfficial-unbound-0002"


@pytest.fixture
def bot_settings() -> dict[str, dict[str, Any]]:
    return {}


@pytest.fixture
def settings(
    settings: dict[str, dict[str, Any]], bot_settings: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    for section, values in bot_settings.items():
        settings[section] = {**settings.get(section, {}), **values}
    return settings


@pytest.fixture
async def bound_member(client: TestClient) -> Member:
    """A card holder whose Official Account follower is linked."""
    member = await create_member(name="李四")
    member.official_openid = BOUND_OPENID
    await member.save(update_fields=["official_openid"])
    return member
