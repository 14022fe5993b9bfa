"""Member search and detail for owners and operators."""

from __future__ import annotations

from aiohttp import web

from admin.auth import allow, current_operator
from handlers.members import lookup as member_lookup
from handlers.reveal import reveal_requested
from wxmember.core import keys
from wxmember.core.inputs import page_query, path_id
from wxmember.core.models import Role
from wxmember.core.web import json_response, page_body


@allow(Role.OWNER, Role.OPERATOR)
async def list_members(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    services = request.config_dict[keys.SERVICES]
    query = request.query
    found = await member_lookup.search_members(
        services,
        card_no=query.get("card_no") or None,
        phone=query.get("phone") or None,
        name=query.get("name") or None,
        after_id=after_id,
        limit=limit,
    )
    items = [member_lookup.staff_view(services, member) for member in found]
    return json_response(page_body(items, [member.id for member in found], limit))


@allow(Role.OWNER, Role.OPERATOR)
async def show_member(request: web.Request) -> web.Response:
    detail = await member_lookup.member_detail(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        path_id(request, "member_id"),
        reveal_phone=reveal_requested(request.query.get("reveal")),
    )
    return json_response(detail, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/members", list_members)
    app.router.add_get("/members/{member_id}", show_member)
