"""Stores (门店) for owners and operators: the stores, and the stores each cashier is bound to."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    CashierStores,
    StaffStore,
    StaffStorePage,
    StoreDeleted,
    StoreFigures,
    StoreMemberPage,
)
from handlers import stores
from handlers.stores import figures
from handlers.stores.cashiers import MAX_STORES_PER_CASHIER, bindings_view
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.errors import NotFound
from wxmember.core.inputs import Body, Flag, Id, Page, Query, QueryInt
from wxmember.core.models import Operator
from wxmember.core.web import json_response, page_body

routes = Routes()


class StoresQuery(Page):
    active: Flag | None = None


class StoreFiguresQuery(Query):
    days: Annotated[int, QueryInt, Field(ge=1, le=max(figures.PERIODS))] = 30


class CashierStoresBody(Body):
    store_ids: Annotated[list[Id], Field(max_length=MAX_STORES_PER_CASHIER)]


@routes.get("/stores", query=StoresQuery, response=StaffStorePage)
@allow(*STAFF)
async def list_stores(request: web.Request, query: StoresQuery) -> web.Response:
    """Every store newest first; `?active=true|false` for the active or deactivated ones."""
    found = await stores.list_stores(query.cursor, query.limit, active=query.active)
    views = [stores.store_view(store) for store in found]
    return json_response(page_body(views, [store.id for store in found], query.limit))


@routes.post(
    "/stores",
    body=stores.StoreCreate,
    status=201,
    response=StaffStore,
    errors=("store_code_taken",),
)
@allow(*STAFF)
async def create_store(request: web.Request, body: stores.StoreCreate) -> web.Response:
    """Create a store (audited); its code is fixed from now on and unique."""
    clock = request.config_dict[keys.SERVICES].clock
    store = await stores.create_store(current_operator(request), body, clock)
    return json_response(stores.store_view(store), status=201)


@routes.get("/stores/{store_id}", response=StaffStore, errors=("store_not_found",))
@allow(*STAFF)
async def get_store(request: web.Request, store_id: int) -> web.Response:
    """One store."""
    return json_response(stores.store_view(await stores.get_store(store_id)))


@routes.patch(
    "/stores/{store_id}", body=stores.StorePatch, response=StaffStore, errors=("store_not_found",)
)
@allow(*STAFF)
async def update_store(
    request: web.Request, store_id: int, body: stores.StorePatch
) -> web.Response:
    """Rename, move, deactivate (`active: false`) or reactivate a store (audited)."""
    clock = request.config_dict[keys.SERVICES].clock
    store = await stores.update_store(current_operator(request), store_id, body, clock)
    return json_response(stores.store_view(store))


@routes.delete(
    "/stores/{store_id}", response=StoreDeleted, errors=("store_not_found", "store_in_use")
)
@allow(*STAFF)
async def delete_store(request: web.Request, store_id: int) -> web.Response:
    """Delete a store nothing names yet (audited); one on record is deactivated instead."""
    store = await stores.delete_store(current_operator(request), store_id)
    return json_response({"id": store_id, "code": store.code})


@routes.get(
    "/stores/{store_id}/figures",
    query=StoreFiguresQuery,
    response=StoreFigures,
    errors=("store_not_found",),
)
@allow(*STAFF)
async def store_figures(
    request: web.Request, store_id: int, query: StoreFiguresQuery
) -> web.Response:
    """A store's figures by local day up to today (`days`: 7, 30 or 90; others are 30): cards
    opened, purchases, refunds and coupon write-offs there, and their totals."""
    store = await stores.get_store(store_id)
    period = await figures.store_period(request.config_dict[keys.SERVICES], store, query.days)
    return json_response(
        {
            "store": stores.store_view(store),
            "days": [day.view() for day in period.days],
            "totals": period.totals(),
        }
    )


@routes.get(
    "/stores/{store_id}/members",
    query=Page,
    response=StoreMemberPage,
    errors=("store_not_found",),
)
@allow(*STAFF)
async def store_members(request: web.Request, store_id: int, query: Page) -> web.Response:
    """The live members who opened their cards at a store, newest first."""
    store = await stores.get_store(store_id)
    found = await figures.openings(store, query.cursor, query.limit)
    views = [figures.opening_view(opening) for opening in found]
    return json_response(page_body(views, [opening.id for opening in found], query.limit))


@routes.get(
    "/operators/{operator_id}/stores", response=CashierStores, errors=("operator_not_found",)
)
@allow(*STAFF)
async def cashier_stores(request: web.Request, operator_id: int) -> web.Response:
    """The stores a staff account is bound to."""
    operator = await Operator.get_or_none(id=operator_id)
    if operator is None:
        raise NotFound("No such operator.", code="operator_not_found")
    return json_response(bindings_view(operator, await stores.bound_stores(operator.id)))


@routes.put(
    "/operators/{operator_id}/stores",
    body=CashierStoresBody,
    response=CashierStores,
    errors=("operator_not_found", "not_a_cashier", "store_not_found", "store_inactive"),
)
@allow(*STAFF)
async def bind_cashier_stores(
    request: web.Request, operator_id: int, body: CashierStoresBody
) -> web.Response:
    """Bind a cashier to exactly these stores (audited); `[]` unbinds every store."""
    clock = request.config_dict[keys.SERVICES].clock
    operator, bound = await stores.bind_stores(
        current_operator(request), operator_id, body.store_ids, clock
    )
    return json_response(bindings_view(operator, bound))
