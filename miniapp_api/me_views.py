"""The member's own account: profile, data export, account deletion."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from cards.card_image import forget_card_image
from handlers import members
from handlers.members import account as member_account
from miniapp_api.auth import current_member
from miniapp_api.card_views import NO_STORE, NameInput
from wxmember.core import keys
from wxmember.core.inputs import IsoDate, read_json
from wxmember.core.web import json_response


class ProfilePatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: NameInput | None = None
    gender: Annotated[str, StringConstraints(max_length=32)] | None = None
    birthday: IsoDate | None = None


async def show_me(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    return json_response(members.profile_view(services, current_member(request)), headers=NO_STORE)


async def update_me(request: web.Request) -> web.Response:
    body = await read_json(request, ProfilePatchBody)
    services = request.config_dict[keys.SERVICES]
    member = await member_account.update_profile(
        services,
        current_member(request),
        name=body.name,
        gender=body.gender,
        birthday=body.birthday,
    )
    return json_response(members.profile_view(services, member), headers=NO_STORE)


async def export_me(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    data = await member_account.export_member_data(services, current_member(request))
    return json_response(data, headers=NO_STORE)


async def delete_me(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    member = current_member(request)
    await member_account.delete_account(services, member)
    await forget_card_image(services, member.id)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/me", show_me)
    app.router.add_patch("/me", update_me)
    app.router.add_get("/me/export", export_me)
    app.router.add_delete("/me", delete_me)
