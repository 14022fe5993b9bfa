"""WeChat login and logout: `POST /api/v1/session`, `POST /api/v1/session/logout`."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from handlers import members
from handlers.members import sessions as sessions
from miniapp_api.auth import current_member, public
from miniapp_api.responses import Session
from wxmember.core import keys
from wxmember.core.clientaddr import client_address
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body
from wxmember.core.web import json_response

routes = Routes()


class LoginBody(Body):
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)]


@routes.post(
    "/session",
    body=LoginBody,
    response=Session,
    errors=(
        "invalid_code",
        "code_used",
        "login_blocked",
        "too_many_requests",
        "wechat_unavailable",
    ),
)
@public
async def create_session(request: web.Request, body: LoginBody) -> web.Response:
    """Log in with a `wx.login` code; never returns the openid or the session key."""
    services = request.config_dict[keys.SERVICES]
    result = await sessions.login(services, body.code, client_address(request))
    return json_response(
        {
            "token": result.token,
            "expires_in": result.expires_in,
            "member": members.profile_view(services, result.member),
            "has_card": result.member.has_card,
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.post("/session/logout", status=204)
async def end_session(request: web.Request) -> web.Response:
    """End every session of the member (all devices)."""
    await sessions.logout(current_member(request))
    return web.Response(status=204)
