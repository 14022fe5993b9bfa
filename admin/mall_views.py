"""Points mall administration: items, stock, code pools, and order fulfilment."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from handlers.mall import items as mall_items
from handlers.mall import orders as mall_orders
from handlers.reveal import reveal_requested
from wxmember.core import keys
from wxmember.core.inputs import page_query, path_id, query_enum, query_flag, query_int, read_json
from wxmember.core.models.mall import ItemKind, OrderState
from wxmember.core.web import json_response, page_body

# --- items --------------------------------------------------------------------------------


@allow(*STAFF)
async def list_items(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    items = await mall_items.list_items(
        after_id,
        limit,
        kind=query_enum(request, "kind", ItemKind),
        active=query_flag(request, "active"),
    )
    views = [mall_items.admin_view(item) for item in items]
    return json_response(page_body(views, [item.id for item in items], limit))


@allow(*STAFF)
async def create_item(request: web.Request) -> web.Response:
    body = await read_json(request, mall_items.ItemCreate)
    item = await mall_items.create_item(current_operator(request), body)
    return json_response(mall_items.admin_view(item), status=201)


@allow(*STAFF)
async def get_item(request: web.Request) -> web.Response:
    item = await mall_items.get_item(path_id(request, "item_id"))
    return json_response(mall_items.admin_view(item))


@allow(*STAFF)
async def update_item(request: web.Request) -> web.Response:
    body = await read_json(request, mall_items.ItemPatch)
    item = await mall_items.update_item(
        current_operator(request), path_id(request, "item_id"), body
    )
    return json_response(mall_items.admin_view(item))


@allow(*STAFF)
async def change_stock(request: web.Request) -> web.Response:
    body = await read_json(request, mall_items.StockChange)
    item = await mall_items.change_stock(
        current_operator(request), path_id(request, "item_id"), body.add
    )
    return json_response(mall_items.admin_view(item))


@allow(*STAFF)
async def upload_codes(request: web.Request) -> web.Response:
    body = await read_json(request, mall_items.CodesUpload)
    item, added = await mall_items.upload_codes(
        current_operator(request), path_id(request, "item_id"), body.codes
    )
    return json_response(
        {"item": mall_items.admin_view(item), "added": added, "skipped": len(body.codes) - added}
    )


# --- orders -------------------------------------------------------------------------------


@allow(*STAFF)
async def list_orders(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    member_id = query_int(request, "member_id", 0, 0, 10**18) or None
    orders = await mall_orders.list_orders(
        after_id,
        limit,
        state=query_enum(request, "state", OrderState, code="invalid_state_filter"),
        member_id=member_id,
    )
    services = request.config_dict[keys.SERVICES]
    views = [mall_orders.admin_order_view(services, order) for order in orders]
    return json_response(page_body(views, [order.id for order in orders], limit))


@allow(*STAFF)
async def get_order(request: web.Request) -> web.Response:
    detail = await mall_orders.order_detail(
        request.config_dict[keys.SERVICES],
        current_operator(request),
        path_id(request, "order_id"),
        reveal_phone=reveal_requested(request.query.get("reveal")),
    )
    return json_response(detail, headers={"Cache-Control": "no-store"})


@allow(*STAFF)
async def ship_order(request: web.Request) -> web.Response:
    body = await read_json(request, mall_orders.Shipment)
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.ship_order(
        services, current_operator(request), path_id(request, "order_id"), body
    )
    return json_response(mall_orders.admin_order_view(services, order))


@allow(*STAFF)
async def complete_order(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.complete_order(
        services, current_operator(request), path_id(request, "order_id")
    )
    return json_response(mall_orders.admin_order_view(services, order))


@allow(*STAFF)
async def cancel_order(request: web.Request) -> web.Response:
    body = await read_json(request, mall_orders.Cancellation)
    services = request.config_dict[keys.SERVICES]
    order = await mall_orders.cancel_order(
        services, path_id(request, "order_id"), actor=current_operator(request), reason=body.reason
    )
    return json_response(mall_orders.admin_order_view(services, order))


def setup(app: web.Application) -> None:
    app.router.add_get("/mall/items", list_items)
    app.router.add_post("/mall/items", create_item)
    app.router.add_get("/mall/items/{item_id}", get_item)
    app.router.add_patch("/mall/items/{item_id}", update_item)
    app.router.add_post("/mall/items/{item_id}/stock", change_stock)
    app.router.add_post("/mall/items/{item_id}/codes", upload_codes)
    app.router.add_get("/mall/redemptions", list_orders)
    app.router.add_get("/mall/redemptions/{order_id}", get_order)
    app.router.add_post("/mall/redemptions/{order_id}/ship", ship_order)
    app.router.add_post("/mall/redemptions/{order_id}/complete", complete_order)
    app.router.add_post("/mall/redemptions/{order_id}/cancel", cancel_order)
