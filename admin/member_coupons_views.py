"""A member's coupons seen by staff, and operator grants (owner and operator; audited)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from admin.auth import STAFF, allow, current_operator
from handlers import coupons
from handlers.coupons import codes as coupon_codes
from wxmember.core import keys
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import CleanText, page_query, path_id, query_enum, read_json
from wxmember.core.models.coupons import CouponStatus
from wxmember.core.web import json_response, page_body

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class GrantBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template_id: Annotated[StrictInt, Field(ge=1)]
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
    ]


def _idempotency_key(request: web.Request, member_id: int) -> str:
    header = request.headers.get("Idempotency-Key")
    if header is None:
        return f"grant:{member_id}:{uuid.uuid4().hex}"
    if not _IDEMPOTENCY_KEY.match(header):
        raise ValidationFailed(
            "Idempotency-Key must be 1..64 letters, digits or _.:-",
            code="invalid_idempotency_key",
        )
    return f"grant:{member_id}:{header}"


@allow(*STAFF)
async def grant(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    member_id = path_id(request, "member_id")
    body = await read_json(request, GrantBody)
    coupon, created = await coupons.grant_coupon(
        services,
        current_operator(request),
        member_id,
        body.template_id,
        reason=body.reason,
        idempotency_key=_idempotency_key(request, member_id),
    )
    await coupon.fetch_related("template")
    shown = coupon_codes.coupon_public(services, coupon, coupon.template)
    return json_response(shown, status=201 if created else 200)


@allow(*STAFF)
async def list_member_coupons(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    member_id = path_id(request, "member_id")
    status = query_enum(request, "status", CouponStatus)
    after_id, limit = page_query(request)
    found = await coupons.member_coupons(services, member_id, status, after_id, limit)
    items = [coupon_codes.coupon_public(services, coupon, coupon.template) for coupon in found]
    return json_response(page_body(items, [coupon.id for coupon in found], limit))


def setup(app: web.Application) -> None:
    app.router.add_post("/members/{member_id}/coupons", grant)
    app.router.add_get("/members/{member_id}/coupons", list_member_coupons)
