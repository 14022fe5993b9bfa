"""WeChat login and logout: `POST /api/v1/session`, `POST /api/v1/session/logout`."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from handlers import members
from handlers.members import sessions as sessions
from miniapp_api.auth import current_member, public
from wxmember.core import keys
from wxmember.core.clientaddr import client_address
from wxmember.core.inputs import read_json
from wxmember.core.web import json_response


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)]


@public
async def create_session(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
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


async def end_session(request: web.Request) -> web.Response:
    await sessions.logout(current_member(request))
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post("/session", create_session)
    app.router.add_post("/session/logout", end_session)
