"""Member search and detail for owners and operators."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from admin.auth import allow, current_operator
from admin.responses import MemberDetail, MemberPage
from handlers.members import lookup as member_lookup
from handlers.reveal import RevealQuery, reveal_requested
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Page, Printable
from wxmember.core.models import Role
from wxmember.core.web import json_response, page_body

routes = Routes()

# What staff type is judged by the look-up (its trimming, lengths and digits); this bounds it.
Typed = Annotated[str, StringConstraints(max_length=64), Printable]


class SearchQuery(Page):
    card_no: Typed | None = None
    phone: Typed | None = None
    name: Typed | None = None


@routes.get(
    "/members",
    query=SearchQuery,
    response=MemberPage,
    errors=("invalid_card_no", "invalid_phone", "invalid_name"),
)
@allow(Role.OWNER, Role.OPERATOR)
async def list_members(request: web.Request, query: SearchQuery) -> web.Response:
    """Live members by card number, phone number or name, newest first; phones masked."""
    services = request.config_dict[keys.SERVICES]
    found = await member_lookup.search_members(
        services,
        card_no=query.card_no,
        phone=query.phone,
        name=query.name,
        after_id=query.cursor,
        limit=query.limit,
    )
    items = [member_lookup.staff_view(services, member) for member in found]
    return json_response(page_body(items, [member.id for member in found], query.limit))


@routes.get(
    "/members/{member_id}",
    query=RevealQuery,
    response=MemberDetail,
    errors=("member_not_found", "invalid_reveal", "reveal_not_allowed"),
)
@allow(Role.OWNER, Role.OPERATOR)
async def show_member(request: web.Request, member_id: int, query: RevealQuery) -> web.Response:
    """One member; `?reveal=phone` shows an owner the phone number in full (audited)."""
    detail = await member_lookup.member_detail(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        member_id,
        reveal_phone=reveal_requested(query.reveal),
    )
    return json_response(detail, headers={"Cache-Control": "no-store"})
