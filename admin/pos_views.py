"""`/admin/api/v1/pos`: the cashier's till: identify a member, purchases and refunds."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from admin.auth import EVERYONE, allow, current_operator
from admin.responses import TillMember, TillPurchase, TillRefund
from handlers import pos
from handlers.pos.purchases import MAX_FEN, MAX_NUMBER
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, Id
from wxmember.core.openapi import REPLAYED
from wxmember.core.web import json_response

routes = Routes()

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# Order and refund numbers end up in ledger references ("order:<no>", at most 64 characters).
DocNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_NUMBER, pattern=r"^[\w.:/-]+$"
    ),
]
Fen = Annotated[int, Field(strict=True, ge=1, le=MAX_FEN)]


class IdentifyBody(Body):
    code: Code


# A store's code (`/stores`): a cashier bound to one store may leave it out.
StoreCode = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), CleanText] | None
)
STORE_ERRORS = ("store_required", "store_not_allowed", "store_not_found", "store_inactive")


class PurchaseBody(Body):
    member_id: Id
    order_no: DocNumber
    amount_fen: Fen
    store: StoreCode = None


class RefundBody(Body):
    order_no: DocNumber
    refund_no: DocNumber
    amount_fen: Fen
    store: StoreCode = None


@routes.post(
    "/pos/identify",
    body=IdentifyBody,
    response=TillMember,
    errors=("member_not_found", "card_number_not_accepted"),
)
@allow(*EVERYONE)
async def identify(request: web.Request, body: IdentifyBody) -> web.Response:
    """Who a dynamic member code belongs to: name, masked phone, card, tier, points."""
    return json_response(await pos.identify(request.config_dict[keys.SERVICES], body.code))


@routes.post(
    "/pos/purchases",
    body=PurchaseBody,
    status=201,
    response=TillPurchase,
    also=(REPLAYED,),
    errors=("member_not_found", "card_required", "order_no_reused", *STORE_ERRORS),
)
@allow(*EVERYONE)
async def record_purchase(request: web.Request, body: PurchaseBody) -> web.Response:
    """Credit a purchase's points and growth; the same order again answers the first result.

    `store` is the store's code: a cashier bound to one store may leave it out, one bound to
    several must send it, and none may name a store it is not bound to."""
    shown, created = await pos.till_purchase(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        body.member_id,
        body.order_no,
        body.amount_fen,
        body.store or None,
    )
    return json_response(shown, status=201 if created else 200)


@routes.post(
    "/pos/refunds",
    body=RefundBody,
    status=201,
    response=TillRefund,
    also=(REPLAYED,),
    errors=(
        "purchase_not_found",
        "refund_no_reused",
        "refund_exceeds_purchase",
        "insufficient_points",
        *STORE_ERRORS,
    ),
)
@allow(*EVERYONE)
async def refund_purchase(request: web.Request, body: RefundBody) -> web.Response:
    """Refund (part of) a purchase: its points and growth are taken back in proportion."""
    shown, created = await pos.till_refund(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        body.order_no,
        body.refund_no,
        body.amount_fen,
        body.store or None,
    )
    return json_response(shown, status=201 if created else 200)
