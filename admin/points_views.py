"""`/admin/api/v1/members/{id}/points-*`: operator adjustments and a member's ledger."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from admin.auth import STAFF, allow, current_operator
from handlers import points
from handlers.points import queries as points_queries
from wxmember.core import keys
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import CleanText, page_query, path_id, read_json
from wxmember.core.web import json_response, page_body

MAX_ADJUSTMENT = 1_000_000
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class AdjustmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictInt = Field(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT)
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
    ]

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


def _idempotency_key(request: web.Request) -> str:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return f"adjust:{uuid.uuid4().hex}"
    if not _KEY.match(raw):
        raise ValidationFailed(
            "Idempotency-Key must be 1..64 letters, digits or ._:-",
            code="invalid_idempotency_key",
        )
    return f"adjust:{raw}"


@allow(*STAFF)
async def create_adjustment(request: web.Request) -> web.Response:
    member_id = path_id(request, "member_id")
    body = await read_json(request, AdjustmentBody)
    entry = await points.adjust(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        member_id,
        body.amount,
        reason=body.reason,
        idempotency_key=_idempotency_key(request),
    )
    return json_response(points_queries.entry_public(entry), status=201)


@allow(*STAFF)
async def member_ledger(request: web.Request) -> web.Response:
    member_id = path_id(request, "member_id")
    before_id, limit = page_query(request)
    rows = await points_queries.ledger(member_id, before_id, limit)
    items = [points_queries.entry_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], limit))


def setup(app: web.Application) -> None:
    app.router.add_post("/members/{member_id}/points-adjustments", create_adjustment)
    app.router.add_get("/members/{member_id}/points-ledger", member_ledger)
