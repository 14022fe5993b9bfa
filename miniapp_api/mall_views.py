"""The points mall for members: browse items, redeem with an Idempotency-Key, my orders."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from handlers import mall
from handlers.mall import orders as mall_orders
from handlers.mall import redemption as mall_redemption
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.inputs import page_query, path_id, query_enum, query_flag, read_json
from wxmember.core.models.mall import ItemKind, OrderState
from wxmember.core.web import json_response, page_body


class MemberCancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


async def list_items(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    items, ids = await mall.browse(
        request.config_dict[keys.SERVICES],
        current_member(request),
        after_id,
        limit,
        kind=query_enum(request, "kind", ItemKind),
        affordable=bool(query_flag(request, "affordable")),
    )
    return json_response(page_body(items, ids, limit))


async def get_item(request: web.Request) -> web.Response:
    view = await mall.item_for_member(
        request.config_dict[keys.SERVICES], current_member(request), path_id(request, "item_id")
    )
    return json_response(view)


async def redeem(request: web.Request) -> web.Response:
    key = mall_redemption.check_idempotency_key(request.headers.get("Idempotency-Key"))
    body = await read_json(request, mall_redemption.Redemption)
    services = request.config_dict[keys.SERVICES]
    order, created = await mall_redemption.redeem(services, current_member(request), body, key)
    return json_response(
        mall_orders.order_view(services, order),
        status=201 if created else 200,
        headers={} if created else {"Idempotent-Replayed": "true"},
    )


async def list_orders(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    orders = await mall_orders.member_orders(
        current_member(request),
        after_id,
        limit,
        query_enum(request, "state", OrderState, code="invalid_state_filter"),
    )
    services = request.config_dict[keys.SERVICES]
    items = [mall_orders.order_view(services, order) for order in orders]
    return json_response(page_body(items, [order.id for order in orders], limit))


async def get_order(request: web.Request) -> web.Response:
    order = await mall_orders.member_order(current_member(request), path_id(request, "order_id"))
    return json_response(mall_orders.order_view(request.config_dict[keys.SERVICES], order))


async def cancel_order(request: web.Request) -> web.Response:
    body = (
        await read_json(request, MemberCancelBody) if request.can_read_body else MemberCancelBody()
    )
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.cancel_order(
        services,
        path_id(request, "order_id"),
        member=current_member(request),
        reason=body.reason or "cancelled by the member",
    )
    return json_response(mall_orders.order_view(services, order))


def setup(app: web.Application) -> None:
    app.router.add_get("/mall/items", list_items)
    app.router.add_get("/mall/items/{item_id}", get_item)
    app.router.add_post("/mall/redemptions", redeem)
    app.router.add_get("/mall/redemptions", list_orders)
    app.router.add_get("/mall/redemptions/{order_id}", get_order)
    app.router.add_post("/mall/redemptions/{order_id}/cancel", cancel_order)
