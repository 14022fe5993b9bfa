"""Coupon write-off at the till: look a code up, redeem it on an order, void it."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from admin.auth import EVERYONE, allow, current_operator
from handlers.coupons import writeoff as coupon_writeoff
from handlers.coupons.codes import coupon_public
from wxmember.core import keys
from wxmember.core.inputs import query_int, read_json
from wxmember.core.web import json_response

MAX_ORDER_FEN = 1_000_000_000

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
OrderNo = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$"
    ),
]


class RedeemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    order_no: OrderNo
    order_amount_fen: Annotated[StrictInt, Field(ge=1, le=MAX_ORDER_FEN)]
    member_id: Annotated[StrictInt, Field(ge=1)] | None = None


class VoidBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    order_no: OrderNo


@allow(*EVERYONE)
async def look_up(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    amount = query_int(request, "order_amount_fen", 0, 0, MAX_ORDER_FEN) or None
    coupon, refusal, discount = await coupon_writeoff.check_coupon(
        services, request.match_info["code"], amount
    )
    return json_response(
        {
            "coupon": coupon_public(services, coupon, coupon.template),
            "member_id": coupon.member_id,
            "usable": refusal is None,
            "reason": refusal.code if refusal else None,
            "discount_fen": discount,
            "payable_fen": amount - discount if amount and discount is not None else None,
        }
    )


@allow(*EVERYONE)
async def redeem(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    body = await read_json(request, RedeemBody)
    result = await coupon_writeoff.redeem(
        services,
        current_operator(request),
        body.code,
        order_no=body.order_no,
        order_amount_fen=body.order_amount_fen,
        member_id=body.member_id,
    )
    return json_response(coupon_writeoff.writeoff_public(services, result))


@allow(*EVERYONE)
async def void(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    body = await read_json(request, VoidBody)
    coupon = await coupon_writeoff.void(
        services, current_operator(request), body.code, order_no=body.order_no
    )
    return json_response({"coupon": coupon_public(services, coupon, coupon.template)})


def setup(app: web.Application) -> None:
    app.router.add_get("/pos/coupons/{code}", look_up)
    app.router.add_post("/pos/coupons/redeem", redeem)
    app.router.add_post("/pos/coupons/void", void)
