"""`POST /api/v1/official-binding`: bind the Official Account follower behind a bot link."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from handlers.followers.links import complete_binding
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.inputs import read_json
from wxmember.core.web import json_response


class BindingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


async def bind_official_follower(request: web.Request) -> web.Response:
    body = await read_json(request, BindingBody)
    services = request.config_dict[keys.SERVICES]
    member = await complete_binding(services, current_member(request), body.token)
    return json_response({"official_bound": member.official_openid is not None})


def setup(app: web.Application) -> None:
    app.router.add_post("/official-binding", bind_official_follower)
