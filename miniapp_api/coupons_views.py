"""The coupon centre and the member's own coupons."""

from __future__ import annotations

from aiohttp import web

from handlers import coupons
from handlers.coupons import claims as coupon_claims
from handlers.coupons import codes as coupon_codes
from miniapp_api.auth import current_member
from miniapp_api.responses import CentrePage, MemberCoupon, MemberCouponPage
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Page
from wxmember.core.models.coupons import CouponStatus
from wxmember.core.web import json_response, page_body

routes = Routes()


class CouponsQuery(Page):
    status: CouponStatus | None = None


@routes.get("/coupons/center", query=Page, response=CentrePage)
async def coupon_centre(request: web.Request, query: Page) -> web.Response:
    """Claimable coupons, newest first, with what this member may still claim."""
    services = request.config_dict[keys.SERVICES]
    entries = await coupon_claims.coupon_centre(
        services, current_member(request), query.cursor, query.limit
    )
    items = [coupon_claims.centre_public(services, entry) for entry in entries]
    return json_response(page_body(items, [entry.template.id for entry in entries], query.limit))


@routes.post(
    "/coupons/center/{template_id}/claim",
    status=201,
    response=MemberCoupon,
    errors=(
        "template_not_found",
        "not_claimable",
        "not_started",
        "ended",
        "not_eligible",
        "limit_reached",
        "sold_out",
        "card_required",
    ),
)
async def claim_coupon(request: web.Request, template_id: int) -> web.Response:
    """Claim one coupon of a template in the coupon centre."""
    services = request.config_dict[keys.SERVICES]
    coupon = await coupon_claims.claim(services, current_member(request), template_id)
    return json_response(coupon_codes.coupon_public(services, coupon, coupon.template), status=201)


@routes.get("/coupons", query=CouponsQuery, response=MemberCouponPage)
async def my_coupons(request: web.Request, query: CouponsQuery) -> web.Response:
    """The member's coupons, newest first, by status."""
    services = request.config_dict[keys.SERVICES]
    found = await coupons.member_coupons(
        services, current_member(request).id, query.status, query.cursor, query.limit
    )
    items = [coupon_codes.coupon_public(services, coupon, coupon.template) for coupon in found]
    return json_response(page_body(items, [coupon.id for coupon in found], query.limit))
