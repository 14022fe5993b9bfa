"""The tier benefits the scheduler paid: birthday gifts and monthly coupons, per member."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from admin.auth import STAFF, allow
from admin.responses import BenefitGrantPage
from handlers.benefits import queries
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MAX_ID, Limit, Page, QueryInt
from wxmember.core.models.benefits import BenefitKind, GrantState
from wxmember.core.web import json_response, page_body

routes = Routes()

# "2026" (a birthday gift's year) or "2026-05" (a month of coupons).
Occasion = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}(-[0-9]{2})?$")]


class GrantsQuery(Page):
    limit: Limit = 50
    member_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None
    kind: BenefitKind | None = None
    occasion: Occasion | None = None
    state: GrantState | None = None


@routes.get("/benefit-grants", query=GrantsQuery, response=BenefitGrantPage)
@allow(*STAFF)
async def list_benefit_grants(request: web.Request, query: GrantsQuery) -> web.Response:
    """Tier benefits paid by the scheduler, newest first, by member, kind, occasion and state."""
    rows = await queries.list_grants(
        member_id=query.member_id,
        kind=query.kind,
        occasion=query.occasion,
        state=query.state,
        before_id=query.cursor,
        limit=query.limit,
    )
    items = [queries.grant_view(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], query.limit))
