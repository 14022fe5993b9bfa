"""Seeding for scenarios: members with open cards, tiers, a cashier, and their tokens.

Runs in the harness with Tortoise open on the benchmark database (before the service starts).
Rows go straight in by bulk insert where a handler would be too slow for tens of thousands;
tokens are signed with the service's own secret key, as a login would issue them.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from handlers.members.member_code import new_code_secret
from handlers.members.numbers import luhn_check_digit
from handlers.members.sessions import MEMBER_TOKEN_PURPOSE
from handlers.operators.accounts import TOKEN_PURPOSE as OPERATOR_TOKEN_PURPOSE
from handlers.operators.accounts import create_operator
from wxmember.core.config import Config
from wxmember.core.models import Member, Operator, Role, Tier
from wxmember.core.security import TokenSigner
from wxmember.demo.seeds import seed_ladder

# card numbers of seeded members: this 15-digit body plus n, then the Luhn digit
CARD_BODY_BASE = 880_000_000_000_000
BATCH_SIZE = 500


def card_number(n: int) -> str:
    """The n-th seeded card number: 16 digits with a valid Luhn digit, as the till expects."""
    body = str(CARD_BODY_BASE + n)
    return body + luhn_check_digit(body)


async def entry_tier() -> Tier:
    """The tier of growth threshold 0, created when the ladder is empty."""
    tier = await Tier.filter(level=0).first()
    if tier is None:
        tier = await Tier.create(name="普通会员", level=0, growth_threshold=0, color="#6B7280")
    return tier


async def tier_ladder(config: Config) -> list[Tier]:
    """The demo brand's four tiers (entry, silver, gold, diamond), seeded when there are none."""
    await seed_ladder()
    return await Tier.all().order_by("level")


async def seed_members(count: int, *, official: bool = False) -> list[Member]:
    """`count` new members with open cards in the entry tier, in id order.

    `official` links each to an Official Account follower openid (`official-<tag>-<n>`), as a
    member bound in the chat is.
    """
    tier = await entry_tier()
    tag = secrets.token_hex(4)
    first = await Member.all().count()
    now = datetime.now(UTC)
    birthday = date(1990, 5, 17)
    rows = [
        Member(
            openid=f"bench-{tag}-{n}",
            official_openid=f"official-{tag}-{n}" if official else None,
            name=f"会员{n}",
            birthday=birthday,
            birth_month=birthday.month,
            birth_day=birthday.day,
            card_no=card_number(n),
            card_opened_at=now,
            code_secret=new_code_secret(),
            tier=tier,
        )
        for n in range(first, first + count)
    ]
    await Member.bulk_create(rows, batch_size=BATCH_SIZE)
    return await Member.filter(openid__startswith=f"bench-{tag}-").order_by("id")


def member_token(config: Config, member: Member) -> str:
    """A member session token, as the service would issue it at login."""
    signer = TokenSigner(config.security.secret_key.get_secret_value())
    ttl = config.security.session_ttl_seconds
    return signer.sign(MEMBER_TOKEN_PURPOSE, member.id, member.token_version, ttl)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"),)


async def cashier_token(config: Config) -> str:
    """A new cashier account (through the handler, as the CLI creates one) and its token."""
    operator: Operator = await create_operator(
        f"bench-cashier-{secrets.token_hex(4)}", secrets.token_urlsafe(16), Role.CASHIER
    )
    signer = TokenSigner(config.security.secret_key.get_secret_value())
    ttl = config.security.operator_ttl_seconds
    return signer.sign(OPERATOR_TOKEN_PURPOSE, operator.id, operator.token_version, ttl)
