"""Fixtures of the tier tests: a four-tier ladder, a frozen clock, members placed in tiers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member, entry_tier
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.members import Member
from wxmember.core.models.tiers import Tier

# name, level, colour, growth threshold, retention threshold, multiplier %, upgrade gift points
LADDER = [
    ("普通会员", 0, "#6B7280", 0, 0, 100, 0),
    ("银卡会员", 1, "#9CA3AF", 1000, 800, 110, 100),
    ("金卡会员", 2, "#D4A017", 5000, 4000, 125, 300),
    ("钻石会员", 3, "#3B82F6", 20000, 16000, 150, 1000),
]

# 2025-06-15 12:00 in Shanghai.
NOW = datetime(2025, 6, 15, 4, 0, tzinfo=UTC)


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


@pytest.fixture
async def ladder(client: TestClient) -> dict[str, Tier]:
    """The ladder keyed by English names: entry, silver, gold, diamond."""
    tiers = {}
    for key, (name, level, color, growth, retention, multiplier, gift) in zip(
        ("entry", "silver", "gold", "diamond"), LADDER, strict=True
    ):
        values: dict[str, Any] = {
            "name": name,
            "color": color,
            "growth_threshold": growth,
            "retention_threshold": retention,
            "multiplier_percent": multiplier,
            "upgrade_gift_points": gift,
            "benefits": [{"title": f"积分 {multiplier / 100:g} 倍", "kind": "points_multiplier"}],
        }
        # The entry tier exists from the start; the others are added above it.
        tiers[key] = await (
            entry_tier(**values) if level == 0 else Tier.create(level=level, **values)
        )
    return tiers


MemberIn = Callable[..., Awaitable[Member]]


@pytest.fixture
def member_in(ladder: dict[str, Tier]) -> MemberIn:
    """A member with a card, placed straight into a tier of the ladder."""

    async def make(tier: str = "entry") -> Member:
        member = await create_member()
        if tier != "entry":
            await Member.filter(id=member.id).update(tier_id=ladder[tier].id)
        return await Member.get(id=member.id)

    return make
