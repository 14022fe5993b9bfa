"""Coupon write-off at the till: look a code up, redeem it on an order, void it."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from admin.auth import EVERYONE, allow, current_operator
from admin.responses import CouponLookUp, CouponWriteOff, VoidedCoupon
from handlers.coupons import writeoff as coupon_writeoff
from handlers.coupons.codes import coupon_public
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, MaybeId, Query, QueryInt
from wxmember.core.web import json_response

routes = Routes()

MAX_ORDER_FEN = 1_000_000_000

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
OrderNo = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$"
    ),
]


class LookUpQuery(Query):
    # 0 (or none) looks the coupon up without an order.
    order_amount_fen: Annotated[int | None, QueryInt, Field(ge=0, le=MAX_ORDER_FEN)] = None


class RedeemBody(Body):
    code: Code
    order_no: OrderNo
    order_amount_fen: Annotated[int, Field(strict=True, ge=1, le=MAX_ORDER_FEN)]
    member_id: MaybeId = None
    # the store's code (`/stores`): a cashier bound to one store may leave it out
    store: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), CleanText] | None
    ) = None


class VoidBody(Body):
    code: Code
    order_no: OrderNo


@routes.get(
    "/pos/coupons/{code}",
    query=LookUpQuery,
    response=CouponLookUp,
    errors=("invalid_code", "coupon_not_found"),
)
@allow(*EVERYONE)
async def look_up(request: web.Request, code: str, query: LookUpQuery) -> web.Response:
    """A coupon by its code: whether it can be used on the order, the discount, what to pay."""
    services = request.config_dict[keys.SERVICES]
    return json_response(
        await coupon_writeoff.look_up(services, code, query.order_amount_fen or None)
    )


@routes.post(
    "/pos/coupons/redeem",
    body=RedeemBody,
    response=CouponWriteOff,
    errors=(
        "invalid_code",
        "coupon_not_found",
        "member_mismatch",
        "already_used",
        "expired",
        "not_started",
        "below_threshold",
        "store_required",
        "store_not_allowed",
        "store_not_found",
        "store_inactive",
    ),
)
@allow(*EVERYONE)
async def redeem(request: web.Request, body: RedeemBody) -> web.Response:
    """Use a coupon on an order, once; the same order again answers the first write-off."""
    services = request.config_dict[keys.SERVICES]
    result = await coupon_writeoff.redeem(
        services,
        current_operator(request),
        body.code,
        order_no=body.order_no,
        order_amount_fen=body.order_amount_fen,
        member_id=body.member_id,
        store=body.store or None,
    )
    return json_response(coupon_writeoff.writeoff_public(services, result))


@routes.post(
    "/pos/coupons/void",
    body=VoidBody,
    response=VoidedCoupon,
    errors=("invalid_code", "coupon_not_found", "not_used", "order_mismatch"),
)
@allow(*EVERYONE)
async def void(request: web.Request, body: VoidBody) -> web.Response:
    """Give back a coupon used on a cancelled order (expired if its validity is over)."""
    services = request.config_dict[keys.SERVICES]
    coupon = await coupon_writeoff.void(
        services, current_operator(request), body.code, order_no=body.order_no
    )
    return json_response({"coupon": coupon_public(services, coupon, coupon.template)})
