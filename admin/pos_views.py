"""`/admin/api/v1/pos`: the cashier's till: identify a member, purchases and refunds."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from admin.auth import EVERYONE, allow, current_operator
from handlers import pos
from handlers.pos.purchases import MAX_FEN, MAX_NUMBER
from wxmember.core import keys
from wxmember.core.inputs import CleanText, read_json
from wxmember.core.models import Member
from wxmember.core.web import json_response

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# Order and refund numbers end up in ledger references ("order:<no>", at most 64 characters).
DocNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_NUMBER, pattern=r"^[\w.:/-]+$"
    ),
]
Fen = Annotated[StrictInt, Field(ge=1, le=MAX_FEN)]


class IdentifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code


class PurchaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
    order_no: DocNumber
    amount_fen: Fen
    store: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), CleanText] | None
    ) = None


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_no: DocNumber
    refund_no: DocNumber
    amount_fen: Fen


@allow(*EVERYONE)
async def identify(request: web.Request) -> web.Response:
    body = await read_json(request, IdentifyBody)
    return json_response(await pos.identify(request.config_dict[keys.SERVICES], body.code))


@allow(*EVERYONE)
async def record_purchase(request: web.Request) -> web.Response:
    body = await read_json(request, PurchaseBody)
    purchase, created = await pos.record_purchase(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        body.member_id,
        body.order_no,
        body.amount_fen,
        body.store or None,
    )
    member = await Member.get(id=body.member_id)
    data = pos.purchase_public(purchase) | {
        "balance": member.points_balance,
        "debt": member.points_debt,
        "replayed": not created,
    }
    return json_response(data, status=201 if created else 200)


@allow(*EVERYONE)
async def refund_purchase(request: web.Request) -> web.Response:
    body = await read_json(request, RefundBody)
    refund, purchase, created = await pos.refund_purchase(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        body.order_no,
        body.refund_no,
        body.amount_fen,
    )
    member = await Member.get(id=purchase.member_id)
    data = pos.refund_public(refund, purchase, member) | {"replayed": not created}
    return json_response(data, status=201 if created else 200)


def setup(app: web.Application) -> None:
    app.router.add_post("/pos/identify", identify)
    app.router.add_post("/pos/purchases", record_purchase)
    app.router.add_post("/pos/refunds", refund_purchase)
