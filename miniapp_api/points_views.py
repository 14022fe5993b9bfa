"""`/api/v1/points`: the member's balance, soon-expiring points and ledger."""

from __future__ import annotations

from aiohttp import web

from handlers.points import queries as points_queries
from miniapp_api.auth import current_member
from miniapp_api.responses import LedgerPage, PointsSummary
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Page
from wxmember.core.web import json_response, page_body

routes = Routes()


@routes.get("/points", response=PointsSummary)
async def points_summary(request: web.Request) -> web.Response:
    """The balance, debt and the points expiring within 30 days."""
    services = request.config_dict[keys.SERVICES]
    return json_response(await points_queries.summary(services, current_member(request)))


@routes.get("/points/ledger", query=Page, response=LedgerPage)
async def points_ledger(request: web.Request, query: Page) -> web.Response:
    """The member's ledger, newest first."""
    rows = await points_queries.ledger(current_member(request).id, query.cursor, query.limit)
    items = [points_queries.entry_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], query.limit))
