"""Member sessions for the mini-program API: `Authorization: Bearer <token>`.

Routes are private by default; the few that are not (login) are marked `@public`.
A token is bound to the member and their token version, so logout and account deletion
revoke every token at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from handlers.members.sessions import authenticate
from wxmember.core import keys
from wxmember.core.inputs import bearer_token
from wxmember.core.models import Member
from wxmember.core.web import Handler

MEMBER = web.RequestKey("member", Member)
ViewT = TypeVar("ViewT", bound=Callable[..., Awaitable[web.StreamResponse]])
PUBLIC_ATTR = "__wxmember_public__"


def public(handler: ViewT) -> ViewT:
    """Mark a route as callable without a member session."""
    setattr(handler, PUBLIC_ATTR, True)
    return handler


def current_member(request: web.Request) -> Member:
    return request[MEMBER]


@web.middleware
async def member_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is None and not getattr(
        request.match_info.handler, PUBLIC_ATTR, False
    ):
        services = request.config_dict[keys.SERVICES]
        request[MEMBER] = await authenticate(services, bearer_token(request))
    return await handler(request)
