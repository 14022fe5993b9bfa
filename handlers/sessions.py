"""Member session tokens: signed, expiring, bound to the member's token version."""

from __future__ import annotations

from wxmember.context import Services
from wxmember.models import Member

MEMBER_TOKEN_PURPOSE = "member"


def issue_member_token(services: Services, member: Member) -> tuple[str, int]:
    """A session token for the member and its lifetime in seconds."""
    ttl = services.config.security.session_ttl_seconds
    return services.tokens.sign(MEMBER_TOKEN_PURPOSE, member.id, member.token_version, ttl), ttl


async def revoke_member_tokens(member: Member) -> None:
    """Every token issued to this member so far stops working."""
    from tortoise.expressions import F

    await Member.filter(id=member.id).update(token_version=F("token_version") + 1)
