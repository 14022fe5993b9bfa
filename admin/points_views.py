"""`/admin/api/v1/members/{id}/points-*`: operator adjustments and a member's ledger."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints, field_validator

from admin.auth import STAFF, allow, current_operator
from admin.responses import LedgerEntry, LedgerPage
from handlers import points
from handlers.points import queries as points_queries
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.headers import STAFF_IDEMPOTENCY_KEY
from wxmember.core.inputs import Body, CleanText, Page
from wxmember.core.web import json_response, page_body

routes = Routes()

MAX_ADJUSTMENT = 1_000_000


class AdjustmentBody(Body):
    amount: Annotated[int, Field(strict=True, ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT)]
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
    ]

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


@routes.post(
    "/members/{member_id}/points-adjustments",
    body=AdjustmentBody,
    status=201,
    response=LedgerEntry,
    headers=(STAFF_IDEMPOTENCY_KEY,),
    errors=(
        "invalid_idempotency_key",
        "idempotency_key_reused",
        "member_not_found",
        "insufficient_points",
    ),
)
@allow(*STAFF)
async def create_adjustment(
    request: web.Request, member_id: int, body: AdjustmentBody, idempotency_key: str | None
) -> web.Response:
    """Correct a member's points up or down, never below zero (audited)."""
    entry = await points.adjust(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        member_id,
        body.amount,
        reason=body.reason,
        idempotency_key=points.adjustment_key(idempotency_key),
    )
    return json_response(points_queries.entry_public(entry), status=201)


@routes.get(
    "/members/{member_id}/points-ledger",
    query=Page,
    response=LedgerPage,
    errors=("member_not_found",),
)
@allow(*STAFF)
async def member_ledger(request: web.Request, member_id: int, query: Page) -> web.Response:
    """A member's points ledger, newest first."""
    rows = await points_queries.ledger(member_id, query.cursor, query.limit)
    items = [points_queries.entry_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], query.limit))
