"""What the scenarios load: members with sessions, a flash sale, and an everyday mix."""

from __future__ import annotations

import random
from typing import Any

from handlers.coupons.templates import create_template
from tests.coupons.conftest import cash_fields
from tests.factories import auth_headers, create_member
from tests.faults.load import Call
from wxmember.core.context import Services
from wxmember.core.models.coupons import CouponTemplate

# What a member may be told in an everyday mix, besides success.
EVERYDAY_REFUSALS = {(409, "already_checked_in"), (409, "sold_out"), (409, "limit_reached")}


async def members_headers(services: Services, count: int) -> list[dict[str, str]]:
    """`count` card holders, each with a session token."""
    return [auth_headers(services, await create_member()) for _ in range(count)]


async def sale(services: Services, **fields: Any) -> CouponTemplate:
    return await create_template(services, None, cash_fields(**fields))


def claims(template: CouponTemplate, headers: list[dict[str, str]], each: int) -> list[Call]:
    """Every member claiming `each` times, in a shuffled order."""
    path = f"/api/v1/coupons/center/{template.id}/claim"
    calls = [Call("claim", "POST", path, h) for h in headers for _ in range(each)]
    random.Random(len(calls)).shuffle(calls)
    return calls


def everyday(template: CouponTemplate, headers: list[dict[str, str]]) -> list[Call]:
    """Reads and writes the way members make them: the card, points and coupons read, a
    daily check-in and a coupon claim (both refused once done), in a shuffled order."""
    calls = []
    for h in headers:
        calls += [
            Call("card", "GET", "/api/v1/card", h),
            Call("points", "GET", "/api/v1/points", h),
            Call("centre", "GET", "/api/v1/coupons/center", h),
            Call("checkin", "POST", "/api/v1/checkins", h),
            Call("claim", "POST", f"/api/v1/coupons/center/{template.id}/claim", h),
        ]
    random.Random(len(calls)).shuffle(calls)
    return calls
