"""Which tiers may have something: coupons of the centre and items of the mall share the rule.

A coupon template or a mall item lists the tier levels it is for; an empty list means everyone.
A member without a tier (no card yet) is eligible only for what is open to everyone.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.models import Member, Tier
from wxmember.core.prepared import RowsBy


def eligible(levels: Sequence[int] | None, level: int | None) -> bool:
    """Whether a member of tier `level` may have what is limited to `levels`."""
    return not levels or level in levels


_TIER = RowsBy(Tier, "id", limit=1)


async def member_tier(member: Member, using_db: BaseDBAsyncClient | None = None) -> Tier | None:
    """The member's tier, or None without one (the one loaded with the member, if it was)."""
    if member.tier_id is None:
        return None
    loaded = member.__dict__.get("_tier")
    if isinstance(loaded, Tier) and loaded.id == member.tier_id:
        return loaded
    return await _TIER.first(using_db, member.tier_id)


async def member_level(member: Member) -> int | None:
    """The level of the member's tier, or None without one."""
    tier = await member_tier(member)
    return None if tier is None else tier.level
