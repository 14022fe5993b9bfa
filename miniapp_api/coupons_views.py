"""The coupon centre and the member's own coupons."""

from __future__ import annotations

from aiohttp import web

from handlers import coupons
from handlers.coupons import claims as coupon_claims
from handlers.coupons import codes as coupon_codes
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.inputs import page_query, path_id, query_enum
from wxmember.core.models.coupons import CouponStatus
from wxmember.core.web import json_response, page_body


async def coupon_centre(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    after_id, limit = page_query(request)
    entries = await coupon_claims.coupon_centre(services, current_member(request), after_id, limit)
    items = [coupon_claims.centre_public(services, entry) for entry in entries]
    return json_response(page_body(items, [entry.template.id for entry in entries], limit))


async def claim_coupon(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    template_id = path_id(request, "template_id")
    coupon = await coupon_claims.claim(services, current_member(request), template_id)
    return json_response(coupon_codes.coupon_public(services, coupon, coupon.template), status=201)


async def my_coupons(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    status = query_enum(request, "status", CouponStatus)
    after_id, limit = page_query(request)
    found = await coupons.member_coupons(
        services, current_member(request).id, status, after_id, limit
    )
    items = [coupon_codes.coupon_public(services, coupon, coupon.template) for coupon in found]
    return json_response(page_body(items, [coupon.id for coupon in found], limit))


def setup(app: web.Application) -> None:
    app.router.add_get("/coupons/center", coupon_centre)
    app.router.add_post("/coupons/center/{template_id}/claim", claim_coupon)
    app.router.add_get("/coupons", my_coupons)
