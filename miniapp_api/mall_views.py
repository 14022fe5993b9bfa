"""The points mall for members: browse items, redeem with an Idempotency-Key, my orders."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from handlers import mall
from handlers.mall import orders as mall_orders
from handlers.mall import redemption as mall_redemption
from miniapp_api.auth import current_member
from miniapp_api.responses import MallItemPage, MallItemView, MallOrder, MallOrderPage
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, Flag, Page
from wxmember.core.models.mall import ItemKind, OrderState
from wxmember.core.openapi import REPLAYED_MARKED
from wxmember.core.web import json_response, page_body

routes = Routes()


class ItemsQuery(Page):
    kind: ItemKind | None = None
    affordable: Flag = False


class OrdersQuery(Page):
    state: Annotated[
        OrderState | None, Field(json_schema_extra={"error_code": "invalid_state_filter"})
    ] = None


class MemberCancelBody(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText] = ""


@routes.get("/mall/items", query=ItemsQuery, response=MallItemPage)
async def list_items(request: web.Request, query: ItemsQuery) -> web.Response:
    """Items on sale in display order, as this member sees them."""
    items, ids = await mall.browse(
        request.config_dict[keys.SERVICES],
        current_member(request),
        query.cursor,
        query.limit,
        kind=query.kind,
        affordable=query.affordable,
    )
    return json_response(page_body(items, ids, query.limit))


@routes.get("/mall/items/{item_id}", response=MallItemView, errors=("item_not_found",))
async def get_item(request: web.Request, item_id: int) -> web.Response:
    """One item on sale, as this member sees it."""
    view = await mall.item_for_member(
        request.config_dict[keys.SERVICES], current_member(request), item_id
    )
    return json_response(view)


@routes.post(
    "/mall/redemptions",
    body=mall_redemption.Redemption,
    status=201,
    response=MallOrder,
    also=(REPLAYED_MARKED,),
    headers=(mall_redemption.IDEMPOTENCY_KEY,),
    errors=(
        "idempotency_key_required",
        "idempotency_key_reused",
        "item_not_found",
        "not_on_sale",
        "not_eligible",
        "sold_out",
        "limit_reached",
        "insufficient_points",
        "address_required",
        "card_required",
    ),
)
async def redeem(
    request: web.Request, body: mall_redemption.Redemption, idempotency_key: str
) -> web.Response:
    """Redeem an item for points; a retry with the same Idempotency-Key never redeems twice."""
    services = request.config_dict[keys.SERVICES]
    order, created = await mall_redemption.redeem(
        services, current_member(request), body, idempotency_key
    )
    return json_response(
        mall_orders.order_view(services, order),
        status=201 if created else 200,
        headers={} if created else {"Idempotent-Replayed": "true"},
    )


@routes.get("/mall/redemptions", query=OrdersQuery, response=MallOrderPage)
async def list_orders(request: web.Request, query: OrdersQuery) -> web.Response:
    """The member's mall orders, newest first."""
    orders = await mall_orders.member_orders(
        current_member(request), query.cursor, query.limit, query.state
    )
    services = request.config_dict[keys.SERVICES]
    items = [mall_orders.order_view(services, order) for order in orders]
    return json_response(page_body(items, [order.id for order in orders], query.limit))


@routes.get("/mall/redemptions/{order_id}", response=MallOrder, errors=("order_not_found",))
async def get_order(request: web.Request, order_id: int) -> web.Response:
    """One of the member's orders."""
    order = await mall_orders.member_order(current_member(request), order_id)
    return json_response(mall_orders.order_view(request.config_dict[keys.SERVICES], order))


@routes.post(
    "/mall/redemptions/{order_id}/cancel",
    body=MemberCancelBody,
    body_optional=True,
    response=MallOrder,
    errors=("order_not_found", "invalid_state"),
)
async def cancel_order(request: web.Request, order_id: int, body: MemberCancelBody) -> web.Response:
    """Cancel a pending order: points and stock go back."""
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.cancel_order(
        services,
        order_id,
        member=current_member(request),
        reason=body.reason or "cancelled by the member",
    )
    return json_response(mall_orders.order_view(services, order))
