"""Builders of test records, straight into the database (for tests of other features)."""

from __future__ import annotations

import itertools
import secrets
from datetime import date
from typing import Any

from handlers.members.sessions import issue_member_token
from tests.support.http import bearer
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier

_numbers = itertools.count(1)


async def entry_tier(**values: Any) -> Tier:
    """The entry tier every database starts with (a migration creates it), with `values` set."""
    tier = await Tier.filter(level=0).first()
    if tier is None:  # the test removed it
        tier = await Tier.create(name="普通会员", level=0, growth_threshold=0, color="#6B7280")
    if values:
        await tier.update_from_dict(values).save()
    return tier


async def create_member(
    *,
    openid: str | None = None,
    with_card: bool = True,
    name: str = "张三",
    birthday: date | None = date(1990, 5, 17),
) -> Member:
    """A member, by default with an open card in the entry tier."""
    n = next(_numbers)
    fields: dict[str, Any] = {"openid": openid or f"openid-{n}-{secrets.token_hex(4)}"}
    if with_card:
        fields |= {
            "name": name,
            "birthday": birthday,
            "birth_month": birthday.month if birthday else None,
            "birth_day": birthday.day if birthday else None,
            "card_no": f"{8800_0000_0000_0000 + n}",
            "code_secret": secrets.token_hex(20),
            "tier": await entry_tier(),
        }
    return await Member.create(**fields)


def auth_headers(services: Services, member: Member) -> dict[str, str]:
    token, _ = issue_member_token(services, member)
    return bearer(token)
