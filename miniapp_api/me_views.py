"""The member's own account: profile, data export, account deletion."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from handlers import members
from handlers.members import account as member_account
from miniapp_api.auth import current_member
from miniapp_api.card_views import NO_STORE, NameInput
from miniapp_api.responses import MemberExport, Profile
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, IsoDate
from wxmember.core.web import json_response

routes = Routes()


class ProfilePatchBody(Body):
    name: NameInput | None = None
    gender: Annotated[str, StringConstraints(max_length=32)] | None = None
    birthday: IsoDate | None = None


@routes.get("/me", response=Profile)
async def show_me(request: web.Request) -> web.Response:
    """The member's profile (the phone masked)."""
    services = request.config_dict[keys.SERVICES]
    return json_response(members.profile_view(services, current_member(request)), headers=NO_STORE)


_PROFILE_ERRORS = (
    "nothing_to_change",
    "invalid_name",
    "invalid_gender",
    "invalid_birthday",
    "birthday_locked",
    "card_required",
)


async def _change_profile(request: web.Request, body: ProfilePatchBody) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    member = await member_account.update_profile(
        services,
        current_member(request),
        name=body.name,
        gender=body.gender,
        birthday=body.birthday,
    )
    return json_response(members.profile_view(services, member), headers=NO_STORE)


@routes.patch("/me", body=ProfilePatchBody, response=Profile, errors=_PROFILE_ERRORS)
async def update_me(request: web.Request, body: ProfilePatchBody) -> web.Response:
    """Change name and gender freely, the birthday once."""
    return await _change_profile(request, body)


@routes.post("/me", body=ProfilePatchBody, response=Profile, errors=_PROFILE_ERRORS)
async def update_me_by_post(request: web.Request, body: ProfilePatchBody) -> web.Response:
    """The same change as `PATCH /me`, for clients that cannot send PATCH.

    `wx.request` offers GET, POST, PUT, DELETE and a few others, but not PATCH.
    """
    return await _change_profile(request, body)


@routes.get("/me/export", response=MemberExport)
async def export_me(request: web.Request) -> web.Response:
    """Everything the service holds about the member, as JSON."""
    services = request.config_dict[keys.SERVICES]
    data = await member_account.export_member_data(services, current_member(request))
    return json_response(data, headers=NO_STORE)


@routes.delete("/me", status=204)
async def delete_me(request: web.Request) -> web.Response:
    """Delete the account: personal data wiped, ledgers kept anonymous."""
    services = request.config_dict[keys.SERVICES]
    member = current_member(request)
    await member_account.delete_account(services, member)
    return web.Response(status=204)
