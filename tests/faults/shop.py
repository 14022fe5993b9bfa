"""What the scenarios load: members with sessions, a flash sale, an everyday mix, and birthday
reminders to Official Account followers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from handlers.coupons.templates import create_template
from handlers.reminders.rules import RuleCreate, create_rule
from stack import Stack
from tests.coupons.conftest import cash_fields
from tests.factories import auth_headers, create_member
from tests.faults.load import Call
from wxmember.core.context import Services
from wxmember.core.inputs import validate
from wxmember.core.models import Member, Operator
from wxmember.core.models.bot import Follower
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.reminders import ReminderKind, ReminderRule

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


@asynccontextmanager
async def birthday_followers(
    stack: Stack, services: Services, openids: list[str]
) -> AsyncIterator[None]:
    """Card holders whose birthday is today in the brand's zone, following the Official
    Account under these openids (in the database and at the stack's WeChat).

    On leaving, whatever the scenario's outcome, their birthdays move to another month and
    every birthday rule stops, so the next scenario's rule meets only its own members."""
    async with aiohttp.ClientSession() as http:
        await http.post(stack.layout.wechat_url + "/_stack/followers", json={"openids": openids})
    today = datetime.now(services.config.brand.tz).date()
    for openid in openids:
        member = await create_member(birthday=today.replace(year=1990))
        await Member.filter(id=member.id).update(official_openid=openid)
        await Follower.create(openid=openid, member=member, subscribed=True)
    try:
        yield
    finally:
        await ReminderRule.filter(kind=ReminderKind.BIRTHDAY).update(enabled=False)
        other = today.replace(month=today.month % 12 + 1, day=1, year=1990)
        await Member.filter(official_openid__in=openids).update(
            birthday=other, birth_month=other.month, birth_day=other.day
        )


async def birthday_rule(stack: Stack, services: Services, name: str, template: str) -> ReminderRule:
    """A birthday rule by Official Account template message, due since a minute ago: the
    scheduler's next minute runs it (the reminder job runs at second 0 of every minute)."""
    async with aiohttp.ClientSession() as http:
        await http.post(
            stack.layout.wechat_url + "/_stack/template",
            json={"template_id": template, "keys": ["keyword1"]},
        )
    now = datetime.now(services.config.brand.tz)
    send_time = (now - timedelta(minutes=1)).strftime("%H:%M")
    if send_time > now.strftime("%H:%M"):  # just after local midnight
        send_time = "00:00"
    fields = {
        "name": name,
        "kind": "birthday",
        "send_time": send_time,
        "days_before": 0,
        "channel": "official_template",
        "template_id": template,
        "mapping": {"keyword1": "member_name"},
        "page": "pages/member/index",
    }
    return await create_rule(await Operator.get(username="owner"), validate(RuleCreate, fields))


async def template_messages(stack: Stack, template: str) -> Counter[str]:
    """How many messages of `template` the stack's WeChat delivered to each openid."""
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.layout.wechat_url + "/_fake/sent") as r:
            messages = await r.json()
    return Counter(m["touser"] for m in messages if m.get("template_id") == template)
