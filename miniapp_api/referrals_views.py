"""`/api/v1/referrals`: the member's share code, whom they invited and what they got."""

from __future__ import annotations

from aiohttp import web

from handlers import referrals
from handlers.referrals.shapes import MyReferrals
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.web import json_response

routes = Routes()


@routes.get("/referrals", response=MyReferrals, errors=("card_required",))
async def my_referrals(request: web.Request) -> web.Response:
    """My share code and path, the offer, my invitations (names masked) and my rewards."""
    services = request.config_dict[keys.SERVICES]
    answer = await referrals.member_referrals(services, current_member(request))
    return json_response(answer, headers={"Cache-Control": "no-store"})
