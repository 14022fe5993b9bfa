"""Mall orders (商城订单): the list by state; shipping, completing and cancelling an order.

Transitions are `handlers.mall.orders`' (cancelling refunds the points and puts the stock
back). The shipping phone shows masked; an owner may reveal it (`handlers.reveal`, audited).
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from console.pages import Pages, form_data, is_htmx, render
from console.session import current_staff
from console.views.setup.forms import FORM, services_of, setup_render
from handlers.mall import orders as mall_orders
from handlers.operators.permissions import Area
from wxmember.core.errors import DomainError
from wxmember.core.inputs import Page, encode_cursor, read_query, validate
from wxmember.core.models.mall import MallOrder, OrderState

pages = Pages()

PAGE_SIZE = 20
STATES = tuple(state.value for state in OrderState)


class OrdersQuery(Page):
    state: Annotated[
        OrderState | None, Field(json_schema_extra={"error_code": "invalid_state_filter"})
    ] = None


@pages.get("/setup/orders", area=Area.SETUP)
async def orders_page(request: web.Request) -> web.StreamResponse:
    """Every member's orders, newest first, of one state or all."""
    query = read_query(request, OrdersQuery)
    found = await mall_orders.list_orders(query.cursor, PAGE_SIZE, state=query.state)
    shown = found[:PAGE_SIZE]
    state = query.state.value if query.state is not None else ""
    next_url = None
    if len(found) > PAGE_SIZE:
        next_url = f"/console/setup/orders?state={state}&cursor={encode_cursor(shown[-1].id)}"
    return setup_render(
        request,
        "setup/orders.html",
        orders=shown,
        state=state,
        states=STATES,
        next_url=next_url,
        first_url=f"/console/setup/orders?state={state}" if query.cursor is not None else None,
    )


async def _order_page(
    request: web.Request,
    order: MallOrder,
    *,
    view: dict[str, Any] | None = None,
    revealed: bool = False,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    services = services_of(request)
    saved = request.query.get("saved")
    return setup_render(
        request,
        "setup/order.html",
        status=status,
        order=order,
        view=view or mall_orders.admin_order_view(services, order),
        revealed=revealed,
        errors=errors or {},
        values=values or {},
        saved=saved if saved in ("shipped", "completed", "cancelled") else None,
    )


@pages.get("/setup/orders/{order_id}", area=Area.SETUP)
async def order_page(request: web.Request, order_id: int) -> web.StreamResponse:
    """One order, its shipping address (phone masked) and what can be done with it."""
    return await _order_page(request, await mall_orders.get_order(order_id))


@pages.post("/setup/orders/{order_id}/reveal", area=Area.SETUP)
async def reveal_phone(request: web.Request, order_id: int) -> web.StreamResponse:
    """The shipping phone in full, for an owner (audited); 403 for anyone else."""
    view = await mall_orders.order_detail(
        services_of(request), current_staff(request), order_id, reveal_phone=True
    )
    if is_htmx(request):
        return render(request, "setup/order_phone.html", view=view, revealed=True)
    order = await mall_orders.get_order(order_id)
    return await _order_page(request, order, view=view, revealed=True)


@pages.post("/setup/orders/{order_id}/ship", area=Area.SETUP)
async def ship_order(request: web.Request, order_id: int) -> web.StreamResponse:
    """Mark a pending order shipped with its carrier and tracking number (audited)."""
    form = await form_data(request)
    values = {"carrier": form.get("carrier", ""), "tracking_no": form.get("tracking_no", "")}
    try:
        shipment = validate(mall_orders.Shipment, values)
        await mall_orders.ship_order(
            services_of(request), current_staff(request), order_id, shipment
        )
    except DomainError as exc:
        field = str(exc.details.get("field", "")).split(".")[0]
        errors = {field if field in values else FORM: exc.code}
        order = await mall_orders.get_order(order_id)
        return await _order_page(request, order, errors=errors, values=values, status=exc.status)
    raise web.HTTPSeeOther(f"/console/setup/orders/{order_id}?saved=shipped")


@pages.post("/setup/orders/{order_id}/complete", area=Area.SETUP)
async def complete_order(request: web.Request, order_id: int) -> web.StreamResponse:
    """Mark a shipped order delivered (audited)."""
    await mall_orders.complete_order(services_of(request), current_staff(request), order_id)
    raise web.HTTPSeeOther(f"/console/setup/orders/{order_id}?saved=completed")


@pages.post("/setup/orders/{order_id}/cancel", area=Area.SETUP)
async def cancel_order(request: web.Request, order_id: int) -> web.StreamResponse:
    """Cancel a pending order: points, stock and the member's allowance go back (audited)."""
    form = await form_data(request)
    values = {"reason": form.get("reason", "")}
    try:
        cancellation = validate(mall_orders.Cancellation, values)
        await mall_orders.cancel_order(
            services_of(request),
            order_id,
            actor=current_staff(request),
            reason=cancellation.reason,
        )
    except DomainError as exc:
        errors = {"reason" if exc.code == "invalid_reason" else FORM: exc.code}
        order = await mall_orders.get_order(order_id)
        return await _order_page(request, order, errors=errors, values=values, status=exc.status)
    raise web.HTTPSeeOther(f"/console/setup/orders/{order_id}?saved=cancelled")
