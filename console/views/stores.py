"""门店: the stores (code, name, city, address, open or deactivated); creating and editing one;
a store's page with its figures by day (cards opened, purchases, refunds, coupon write-offs)
and the members who opened their cards there.

Every write goes through `handlers.stores`, as the admin API's do, so it is checked and
audited the same way. A refusal sends the page back with what was typed and the reason.
Stores are part of the setup area: owners and operators.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from console.i18n import catalogue, error_text
from console.i18n import translate as t
from console.pages import Pages, form_data, render
from console.session import current_staff
from console.views.members import PAGE_SIZE, Paged, Texts, paged
from handlers import stores
from handlers.operators.permissions import Area
from handlers.stores import figures
from wxmember.core import keys
from wxmember.core.errors import DomainError, StoreNotFound
from wxmember.core.inputs import Page, read_query, validate
from wxmember.core.models.stores import Store

pages = Pages()

NOTICES = ("created", "updated", "deleted")
FIELDS = ("code", "name", "city", "address")


def problem(code: str) -> str:
    """A refusal on the store pages in words."""
    return catalogue().get(f"stores.errors.{code}") or error_text(code)


def _field_errors(exc: DomainError) -> dict[str, str]:
    named = str(exc.details.get("field", "")).split(".")[0]
    if named in FIELDS:
        return {named: exc.code}
    if exc.code == "store_code_taken":
        return {"code": exc.code}
    return {"form": exc.code}


def _values(form: Mapping[str, str], *, with_code: bool) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "") for name in FIELDS if name != "code"}
    values["active"] = form.get("active") == "1"
    if with_code:
        values["code"] = form.get("code", "")
    return values


async def _list_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    query = read_query(request, Page)
    found = await stores.list_stores(query.cursor, PAGE_SIZE)
    listed = paged(
        [stores.store_view(store) for store in found],
        [store.id for store in found],
        lambda cursor: f"/console/stores?cursor={cursor}",
    )
    done = request.query.get("done")
    return render(
        request,
        "stores/list.html",
        status=status,
        problem=problem,
        stores=listed,
        errors=errors or {},
        typed=typed or {"active": "1"},
        notice=done if done in NOTICES else None,
    )


@pages.get("/stores", area=Area.SETUP)
async def store_list(request: web.Request) -> web.StreamResponse:
    """Every store, newest first; the form to create one."""
    return await _list_page(request)


@pages.post("/stores", area=Area.SETUP)
async def create_store_page(request: web.Request) -> web.StreamResponse:
    """Create a store (audited)."""
    form = await form_data(request)
    clock = request.config_dict[keys.SERVICES].clock
    try:
        data = validate(stores.StoreCreate, _values(form, with_code=True))
        store = await stores.create_store(current_staff(request), data, clock)
    except DomainError as exc:
        return await _list_page(request, status=exc.status, errors=_field_errors(exc), typed=form)
    raise web.HTTPSeeOther(f"/console/stores/{store.id}?done=created")


async def _store_page(
    request: web.Request,
    store: Store,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    query = read_query(request, Page)
    try:
        days = figures.check_period(int(request.query.get("days", "30")))
    except ValueError:
        days = 30
    period = await figures.store_period(services, store, days)
    found = await figures.openings(store, query.cursor, PAGE_SIZE)
    members: Paged = paged(
        [figures.opening_view(opening) for opening in found],
        [opening.id for opening in found],
        lambda cursor: f"/console/stores/{store.id}?days={days}&cursor={cursor}#members",
    )
    values = typed or {
        "name": store.name,
        "city": store.city,
        "address": store.address,
        "active": "1" if store.active else "",
    }
    done = request.query.get("done")
    return render(
        request,
        "stores/store.html",
        status=status,
        problem=problem,
        store=stores.store_view(store),
        period=period,
        totals=period.totals(),
        days=days,
        periods=figures.PERIODS,
        members=members,
        errors=errors or {},
        typed=values,
        notice=done if done in NOTICES else None,
        texts=Texts(services),
    )


@pages.get("/stores/{store_id}", area=Area.SETUP)
async def store_page(request: web.Request, store_id: int) -> web.StreamResponse:
    """A store: its settings, its figures by day, the members who opened their cards there."""
    return await _store_page(request, await stores.get_store(store_id))


@pages.post("/stores/{store_id}", area=Area.SETUP)
async def update_store_page(request: web.Request, store_id: int) -> web.StreamResponse:
    """Rename, move, deactivate or reactivate a store (audited)."""
    store = await stores.get_store(store_id)
    form = await form_data(request)
    clock = request.config_dict[keys.SERVICES].clock
    try:
        patch = validate(stores.StorePatch, _values(form, with_code=False))
        await stores.update_store(current_staff(request), store_id, patch, clock)
    except DomainError as exc:
        errors = _field_errors(exc)
        return await _store_page(request, store, status=exc.status, errors=errors, typed=form)
    raise web.HTTPSeeOther(f"/console/stores/{store_id}?done=updated")


@pages.post("/stores/{store_id}/delete", area=Area.SETUP)
async def delete_store_page(request: web.Request, store_id: int) -> web.StreamResponse:
    """Delete a store nothing names yet (audited); one on record is deactivated instead."""
    store = await stores.get_store(store_id)
    try:
        await stores.delete_store(current_staff(request), store_id)
    except DomainError as exc:
        return await _store_page(request, store, status=exc.status, errors={"delete": exc.code})
    raise web.HTTPSeeOther("/console/stores?done=deleted")


FIGURE_COLUMNS = (
    "cards_opened",
    "purchases",
    "purchase_fen",
    "refunds",
    "refund_fen",
    "redemptions",
    "discount_fen",
)


def _period_days(request: web.Request) -> int:
    raw = request.query.get("days", "30")
    return figures.check_period(int(raw)) if raw.isdigit() and len(raw) < 4 else 30


@pages.get("/stores/{store_id}/figures.csv", area=Area.SETUP)
async def store_figures_csv(request: web.Request, store_id: int) -> web.StreamResponse:
    """A store's figures per local day of the period (`?days=7|30|90`) as CSV, money in fen."""
    store = await stores.get_store(store_id)
    days = _period_days(request)
    period = await figures.store_period(request.config_dict[keys.SERVICES], store, days)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("stores.day"), *(t(f"stores.csv.{name}") for name in FIGURE_COLUMNS)])
    for day in period.days:
        writer.writerow([day.day.isoformat(), *(getattr(day, name) for name in FIGURE_COLUMNS)])
    name = f"store-{store_id}-{days}d.csv"
    # A byte order mark, so that spreadsheet programs read the Chinese headers as UTF-8.
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def dashboard_store(request: web.Request, days: int) -> dict[str, Any]:
    """The dashboard's store filter (`?store=<id>`): the stores to choose from and, for the
    chosen one, its totals over the dashboard's period (an unknown id is no filter)."""
    choices = await stores.all_stores()
    raw = request.query.get("store", "")
    chosen: dict[str, Any] | None = None
    totals: dict[str, int] = {}
    if raw.isdigit() and len(raw) < 10:
        try:
            store = await stores.get_store(int(raw))
        except StoreNotFound:
            store = None
        if store is not None:
            chosen = stores.store_view(store)
            services = request.config_dict[keys.SERVICES]
            totals = (await figures.store_period(services, store, days)).totals()
    return {"store_choices": choices, "store_filter": chosen, "store_totals": totals}
