"""`/api/v1/points`: the member's balance, soon-expiring points and ledger."""

from __future__ import annotations

from aiohttp import web

from handlers.points import queries as points_queries
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.inputs import page_query
from wxmember.core.web import json_response, page_body


async def points_summary(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    return json_response(await points_queries.summary(services, current_member(request)))


async def points_ledger(request: web.Request) -> web.Response:
    before_id, limit = page_query(request)
    rows = await points_queries.ledger(current_member(request).id, before_id, limit)
    items = [points_queries.entry_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], limit))


def setup(app: web.Application) -> None:
    app.router.add_get("/points", points_summary)
    app.router.add_get("/points/ledger", points_ledger)
