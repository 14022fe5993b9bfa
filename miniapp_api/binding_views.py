"""`POST /api/v1/official-binding`: bind the Official Account follower behind a bot link."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from handlers.followers.links import complete_binding
from miniapp_api.auth import current_member
from miniapp_api.responses import OfficialBinding
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body
from wxmember.core.web import json_response

routes = Routes()


class BindingBody(Body):
    token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


@routes.post(
    "/official-binding",
    body=BindingBody,
    response=OfficialBinding,
    errors=("binding_not_found", "binding_mismatch"),
)
async def bind_official_follower(request: web.Request, body: BindingBody) -> web.Response:
    """Bind the Official Account follower behind a bot link to this member."""
    services = request.config_dict[keys.SERVICES]
    member = await complete_binding(services, current_member(request), body.token)
    return json_response({"official_bound": member.official_openid is not None})
