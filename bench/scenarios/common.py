"""What several scenarios build their requests from."""

from __future__ import annotations

from typing import Any

from bench.prepared import Request, json_request
from bench.registry import SetupContext
from bench.seed import bearer, member_token, seed_members
from wxmember.core.models import Member


def as_member(
    ctx: SetupContext, member: Member, method: str, path: str, payload: Any = None
) -> Request:
    """One request with the member's `Authorization: Bearer` token (JSON body if `payload`)."""
    auth = bearer(member_token(ctx.config, member))
    if payload is None:
        return Request(method, path, auth)
    return json_request(method, path, payload, auth)


async def member_requests(
    ctx: SetupContext,
    count: int,
    method: str,
    path: str,
    payload: Any = None,
) -> list[Request]:
    """Seed `count` members with open cards; one request per member, with its own token."""
    return [as_member(ctx, m, method, path, payload) for m in await seed_members(count)]
