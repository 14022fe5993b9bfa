"""Fixtures for the coupon tests: templates built through the handler, staff sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from handlers.coupons.templates import create_template
from tests.factories import auth_headers, create_member
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier
from wxmember.core.models.coupons import CouponTemplate

# 2025-03-10 10:00 in Shanghai.
NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)

TemplateMaker = Callable[..., Awaitable[CouponTemplate]]
MemberMaker = Callable[..., Awaitable[tuple[Member, dict[str, str]]]]


def cash_fields(**overrides: Any) -> dict[str, Any]:
    """满50减10, 100 in stock, one per member, valid 30 days after claiming."""
    return {
        "title": "满50减10",
        "kind": "cash",
        "value": 1000,
        "threshold_fen": 5000,
        "total_stock": 100,
        "per_member_limit": 1,
        "valid_days": 30,
    } | overrides


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


@pytest.fixture
def new_template(services: Services) -> TemplateMaker:
    async def make(**overrides: Any) -> CouponTemplate:
        return await create_template(services, None, cash_fields(**overrides))

    return make


@pytest.fixture
def new_member(services: Services) -> MemberMaker:
    """A member with a card, optionally in a tier of the given level, and their headers."""

    async def make(level: int | None = None) -> tuple[Member, dict[str, str]]:
        member = await create_member()
        if level is not None:
            tier = await Tier.get_or_none(level=level) or await Tier.create(
                name=f"等级{level}", level=level, growth_threshold=level * 1000
            )
            member.tier = tier
            await member.save()
        return member, auth_headers(services, member)

    return make


@pytest.fixture
async def staff(login_as: Callable[..., Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await login_as("operator", "op-coupons")


@pytest.fixture
async def cashier(login_as: Callable[..., Awaitable[dict[str, str]]]) -> dict[str, str]:
    return await login_as("cashier", "till-1")
