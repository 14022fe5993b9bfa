"""A member's coupons seen by staff, and operator grants (owner and operator; audited)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from admin.auth import STAFF, allow, current_operator
from admin.responses import MemberCoupon, MemberCouponPage
from handlers import coupons
from handlers.coupons import codes as coupon_codes
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.headers import STAFF_IDEMPOTENCY_KEY
from wxmember.core.inputs import Body, CleanText, Id, Page
from wxmember.core.models.coupons import CouponStatus
from wxmember.core.openapi import REPLAYED
from wxmember.core.web import json_response, page_body

routes = Routes()


class GrantBody(Body):
    template_id: Id
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
    ]


class MemberCouponsQuery(Page):
    status: CouponStatus | None = None


@routes.post(
    "/members/{member_id}/coupons",
    body=GrantBody,
    status=201,
    response=MemberCoupon,
    also=(REPLAYED,),
    headers=(STAFF_IDEMPOTENCY_KEY,),
    errors=(
        "invalid_idempotency_key",
        "idempotency_key_reused",
        "member_not_found",
        "template_not_found",
        "template_stopped",
        "template_expired",
        "sold_out",
    ),
)
@allow(*STAFF)
async def grant(
    request: web.Request, member_id: int, body: GrantBody, idempotency_key: str | None
) -> web.Response:
    """Give a member a coupon (audited); a retry with the same Idempotency-Key gives one."""
    services = request.config_dict[keys.SERVICES]
    coupon, created = await coupons.grant_coupon(
        services,
        current_operator(request),
        member_id,
        body.template_id,
        reason=body.reason,
        idempotency_key=coupons.grant_key(member_id, idempotency_key),
    )
    shown = coupon_codes.coupon_public(services, coupon, coupon.template)
    return json_response(shown, status=201 if created else 200)


@routes.get(
    "/members/{member_id}/coupons",
    query=MemberCouponsQuery,
    response=MemberCouponPage,
    errors=("member_not_found",),
)
@allow(*STAFF)
async def list_member_coupons(
    request: web.Request, member_id: int, query: MemberCouponsQuery
) -> web.Response:
    """A member's coupons, newest first, by status."""
    services = request.config_dict[keys.SERVICES]
    found = await coupons.member_coupons(
        services, member_id, query.status, query.cursor, query.limit
    )
    items = [coupon_codes.coupon_public(services, coupon, coupon.template) for coupon in found]
    return json_response(page_body(items, [coupon.id for coupon in found], query.limit))
