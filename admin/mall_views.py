"""Points mall administration: items, stock, code pools, and order fulfilment."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    CodesAdded,
    StaffMallItem,
    StaffMallItemPage,
    StaffMallOrder,
    StaffMallOrderPage,
)
from handlers.mall import items as mall_items
from handlers.mall import orders as mall_orders
from handlers.reveal import RevealQuery, reveal_requested
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MAX_ID, Flag, Page, QueryInt
from wxmember.core.models.mall import ItemKind, OrderState
from wxmember.core.web import json_response, page_body

routes = Routes()

ITEM_ERRORS = ("invalid_coupon_template_id", "invalid_sale_window", "invalid_tier_levels")


class ItemsQuery(Page):
    kind: ItemKind | None = None
    active: Flag | None = None


class OrdersQuery(Page):
    state: Annotated[
        OrderState | None, Field(json_schema_extra={"error_code": "invalid_state_filter"})
    ] = None
    member_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None


# --- items --------------------------------------------------------------------------------


@routes.get("/mall/items", query=ItemsQuery, response=StaffMallItemPage)
@allow(*STAFF)
async def list_items(request: web.Request, query: ItemsQuery) -> web.Response:
    """Every item, on sale or not, newest first, by kind and by whether it is active."""
    items = await mall_items.list_items(
        query.cursor, query.limit, kind=query.kind, active=query.active
    )
    views = [mall_items.admin_view(item) for item in items]
    return json_response(page_body(views, [item.id for item in items], query.limit))


@routes.post(
    "/mall/items",
    body=mall_items.ItemCreate,
    status=201,
    response=StaffMallItem,
    errors=("invalid_stock", *ITEM_ERRORS),
)
@allow(*STAFF)
async def create_item(request: web.Request, body: mall_items.ItemCreate) -> web.Response:
    """Create an item (audited); a virtual item's stock comes from its codes."""
    item = await mall_items.create_item(current_operator(request), body)
    return json_response(mall_items.admin_view(item), status=201)


@routes.get("/mall/items/{item_id}", response=StaffMallItem, errors=("item_not_found",))
@allow(*STAFF)
async def get_item(request: web.Request, item_id: int) -> web.Response:
    """One item, whatever its state."""
    item = await mall_items.get_item(item_id)
    return json_response(mall_items.admin_view(item))


@routes.patch(
    "/mall/items/{item_id}",
    body=mall_items.ItemPatch,
    response=StaffMallItem,
    errors=("item_not_found", *ITEM_ERRORS),
)
@allow(*STAFF)
async def update_item(
    request: web.Request, item_id: int, body: mall_items.ItemPatch
) -> web.Response:
    """Change the fields sent (audited); orders already placed keep their price."""
    item = await mall_items.update_item(current_operator(request), item_id, body)
    return json_response(mall_items.admin_view(item))


@routes.post(
    "/mall/items/{item_id}/stock",
    body=mall_items.StockChange,
    response=StaffMallItem,
    errors=("item_not_found", "invalid_add", "stock_from_codes", "stock_too_high", "stock_too_low"),
)
@allow(*STAFF)
async def change_stock(
    request: web.Request, item_id: int, body: mall_items.StockChange
) -> web.Response:
    """Add stock, or withdraw it with a negative number (audited)."""
    item = await mall_items.change_stock(current_operator(request), item_id, body.add)
    return json_response(mall_items.admin_view(item))


@routes.post(
    "/mall/items/{item_id}/codes",
    body=mall_items.CodesUpload,
    response=CodesAdded,
    errors=("item_not_found", "not_virtual"),
)
@allow(*STAFF)
async def upload_codes(
    request: web.Request, item_id: int, body: mall_items.CodesUpload
) -> web.Response:
    """Add codes to a virtual item's pool; codes already in it are skipped (audited)."""
    item, added = await mall_items.upload_codes(current_operator(request), item_id, body.codes)
    return json_response(
        {"item": mall_items.admin_view(item), "added": added, "skipped": len(body.codes) - added}
    )


# --- orders -------------------------------------------------------------------------------


@routes.get("/mall/redemptions", query=OrdersQuery, response=StaffMallOrderPage)
@allow(*STAFF)
async def list_orders(request: web.Request, query: OrdersQuery) -> web.Response:
    """Every member's orders, newest first, by state and by member."""
    orders = await mall_orders.list_orders(
        query.cursor, query.limit, state=query.state, member_id=query.member_id
    )
    services = request.config_dict[keys.SERVICES]
    views = [mall_orders.admin_order_view(services, order) for order in orders]
    return json_response(page_body(views, [order.id for order in orders], query.limit))


@routes.get(
    "/mall/redemptions/{order_id}",
    query=RevealQuery,
    response=StaffMallOrder,
    errors=("order_not_found", "invalid_reveal", "reveal_not_allowed"),
)
@allow(*STAFF)
async def get_order(request: web.Request, order_id: int, query: RevealQuery) -> web.Response:
    """One order; `?reveal=phone` shows an owner the shipping phone in full (audited)."""
    detail = await mall_orders.order_detail(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        order_id,
        reveal_phone=reveal_requested(query.reveal),
    )
    return json_response(detail, headers={"Cache-Control": "no-store"})


@routes.post(
    "/mall/redemptions/{order_id}/ship",
    body=mall_orders.Shipment,
    response=StaffMallOrder,
    errors=("order_not_found", "invalid_state"),
)
@allow(*STAFF)
async def ship_order(
    request: web.Request, order_id: int, body: mall_orders.Shipment
) -> web.Response:
    """Mark a pending order shipped with its carrier and tracking number (audited)."""
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.ship_order(services, current_operator(request), order_id, body)
    return json_response(mall_orders.admin_order_view(services, order))


@routes.post(
    "/mall/redemptions/{order_id}/complete",
    response=StaffMallOrder,
    errors=("order_not_found", "invalid_state"),
)
@allow(*STAFF)
async def complete_order(request: web.Request, order_id: int) -> web.Response:
    """Mark a shipped order delivered (audited)."""
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.complete_order(services, current_operator(request), order_id)
    return json_response(mall_orders.admin_order_view(services, order))


@routes.post(
    "/mall/redemptions/{order_id}/cancel",
    body=mall_orders.Cancellation,
    response=StaffMallOrder,
    errors=("order_not_found", "invalid_state"),
)
@allow(*STAFF)
async def cancel_order(
    request: web.Request, order_id: int, body: mall_orders.Cancellation
) -> web.Response:
    """Cancel a pending order: points, stock and the member's allowance go back (audited)."""
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.cancel_order(
        services, order_id, actor=current_operator(request), reason=body.reason
    )
    return json_response(mall_orders.admin_order_view(services, order))
