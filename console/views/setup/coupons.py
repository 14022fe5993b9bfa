"""Coupon templates (优惠券): the list with status, stock, coupons out and used; creating and
editing a template; stopping it; adding stock.

Amounts are typed in yuan and stored in fen; a fixed validity is typed as its first and last
usable days (stored half-open: `valid_until` is the midnight after the last day); times are the
brand's local time. The rules across fields are `handlers.coupons.templates`'.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from console.i18n import translate
from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import (
    FORM,
    FormReader,
    last_day,
    local_input,
    local_midnight,
    services_of,
    setup_render,
    yuan,
)
from handlers.coupons import templates as coupon_templates
from handlers.coupons.codes import describe
from handlers.operators.permissions import Area
from handlers.tiers import ladder
from wxmember.core.errors import DomainError
from wxmember.core.inputs import Page, encode_cursor, read_query
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain

pages = Pages()

PAGE_SIZE = 20
KINDS = tuple(kind.value for kind in CouponKind)
OBTAINS = tuple(obtain.value for obtain in Obtain)
VALIDITY = ("days", "fixed")
FIELDS = (
    "title",
    "kind",
    "value_yuan",
    "percent_off",
    "threshold",
    "max_discount",
    "total_stock",
    "per_member_limit",
    "claim_starts_at",
    "claim_ends_at",
    "validity",
    "valid_from",
    "valid_last_day",
    "valid_days",
    "eligible_tiers",
    "obtain",
    "terms",
)
# Template fields (as the handler names them in refusals) by the form field that types them.
ALIASES = {
    "threshold_fen": "threshold",
    "max_discount_fen": "max_discount",
    "valid_until": "valid_last_day",
}


def _values_of(template: CouponTemplate | None, tz: ZoneInfo) -> dict[str, Any]:
    if template is None:
        return {
            "kind": "cash",
            "per_member_limit": "1",
            "validity": "days",
            "valid_days": "30",
            "obtain": "claimable",
            "eligible_tiers": [],
        }
    kind = CouponKind(template.kind)
    return {
        "title": template.title,
        "kind": kind.value,
        "value_yuan": yuan(template.value) if kind is CouponKind.CASH else "",
        "percent_off": str(template.value) if kind is CouponKind.DISCOUNT else "",
        "threshold": yuan(template.threshold_fen) if template.threshold_fen else "",
        "max_discount": yuan(template.max_discount_fen),
        "total_stock": "" if template.total_stock is None else str(template.total_stock),
        "per_member_limit": str(template.per_member_limit),
        "claim_starts_at": local_input(template.claim_starts_at, tz),
        "claim_ends_at": local_input(template.claim_ends_at, tz),
        "validity": "days" if template.valid_days is not None else "fixed",
        "valid_from": (
            template.valid_from.astimezone(tz).date().isoformat() if template.valid_from else ""
        ),
        "valid_last_day": last_day(template.valid_until, tz),
        "valid_days": "" if template.valid_days is None else str(template.valid_days),
        "eligible_tiers": [str(level) for level in template.eligible_tiers],
        "obtain": Obtain(template.obtain).value,
        "terms": template.terms,
    }


def _read(
    form: dict[str, str], tiers: list[str], tz: ZoneInfo
) -> tuple[dict[str, Any], dict[str, Any], FormReader]:
    """The template's fields as the handler takes them, the values as typed, the reader."""
    reader = FormReader(form, tz)
    kind = reader.choice("kind", KINDS)
    values: dict[str, Any] = {
        "title": reader.text("title", max_length=20, required=True),
        "kind": kind or CouponKind.CASH.value,
        "threshold_fen": reader.fen("threshold") or 0,
        "max_discount_fen": None,
        "total_stock": reader.whole("total_stock", low=1, high=coupon_templates.MAX_STOCK),
        "per_member_limit": reader.required_whole("per_member_limit", low=1, high=1000),
        "claim_starts_at": reader.moment("claim_starts_at"),
        "claim_ends_at": reader.moment("claim_ends_at"),
        "valid_from": None,
        "valid_until": None,
        "valid_days": None,
        "eligible_tiers": reader.ids(tiers, "eligible_tiers", high=2**31 - 1),
        "obtain": reader.choice("obtain", OBTAINS) or Obtain.CLAIMABLE.value,
        "terms": reader.lines("terms", max_length=1000),
    }
    if kind == CouponKind.CASH:
        values["value"] = reader.fen("value_yuan") or 0
    elif kind == CouponKind.DISCOUNT:
        values["value"] = reader.whole("percent_off", low=0, high=100) or 0
        values["max_discount_fen"] = reader.fen("max_discount") or None
    else:
        values["value"] = 0
    validity = reader.choice("validity", VALIDITY)
    if validity == "days":
        values["valid_days"] = reader.required_whole("valid_days", low=1, high=3650)
    elif validity == "fixed":
        first, last = reader.day("valid_from"), reader.day("valid_last_day")
        if first is None:
            reader.fail("valid_from")
        if last is None:
            reader.fail("valid_last_day")
        if first is not None and last is not None:
            values["valid_from"] = local_midnight(first, tz)
            values["valid_until"] = local_midnight(last + timedelta(days=1), tz)
    typed: dict[str, Any] = {name: form.get(name, "") for name in FIELDS}
    typed["eligible_tiers"] = tiers
    return values, typed, reader


def _refused(errors: dict[str, str], exc: DomainError, kind: str) -> None:
    """Put the handler's refusal next to the form field that typed what it concerns."""
    named = str(exc.details.get("field") or "") or exc.code.removeprefix("invalid_")
    if exc.code == "stock_below_claimed":
        named = "total_stock"
    if named == "value":
        where = "percent_off" if kind == CouponKind.DISCOUNT else "value_yuan"
    else:
        where = ALIASES.get(named, named)
    errors.setdefault(where if where in FIELDS else FORM, exc.code)


async def _form_page(
    request: web.Request,
    template: CouponTemplate | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> web.Response:
    services = services_of(request)
    context: dict[str, Any] = {}
    if template is not None:
        usage = await coupon_templates.usage_counts([template.id])
        context = {
            "coupon_status": coupon_templates.template_status(template, services.clock.now()),
            "usage": usage[template.id],
            "description": _description(template),
        }
    return setup_render(
        request,
        "setup/coupon_form.html",
        status=status,
        coupon=template,
        values=values,
        errors=errors,
        tiers=await ladder.list_tiers(),
        kind_options=[(kind, translate(f"setup.coupon_kinds.{kind}")) for kind in KINDS],
        obtains=OBTAINS,
        saved=_saved(request),
        **context,
    )


def _saved(request: web.Request) -> str | None:
    saved = request.query.get("saved")
    return saved if saved in ("created", "updated", "stopped", "stock") else None


def _description(template: CouponTemplate) -> str:
    return describe(
        template.kind, template.value, template.threshold_fen, template.max_discount_fen
    )


@pages.get("/setup/coupons", area=Area.SETUP)
async def templates_page(request: web.Request) -> web.StreamResponse:
    """Coupon templates, newest first, with status, stock, coupons out and used."""
    query = read_query(request, Page)
    found = await coupon_templates.list_templates(query.cursor, PAGE_SIZE)
    shown = found[:PAGE_SIZE]
    usage = await coupon_templates.usage_counts([t.id for t in shown])
    now = services_of(request).clock.now()
    rows = [
        {
            "template": template,
            "status": coupon_templates.template_status(template, now),
            "description": _description(template),
            "used": usage[template.id]["used"],
        }
        for template in shown
    ]
    next_url = None
    if len(found) > PAGE_SIZE:
        next_url = f"/console/setup/coupons?cursor={encode_cursor(shown[-1].id)}"
    return setup_render(
        request,
        "setup/coupons.html",
        rows=rows,
        next_url=next_url,
        first_url="/console/setup/coupons" if query.cursor is not None else None,
        saved=_saved(request),
    )


@pages.get("/setup/coupons/new", area=Area.SETUP)
async def new_template(request: web.Request) -> web.StreamResponse:
    """The form for a new coupon template."""
    tz = services_of(request).config.brand.tz
    return await _form_page(request, None, _values_of(None, tz), {})


@pages.post("/setup/coupons/new", area=Area.SETUP)
async def create_template(request: web.Request) -> web.StreamResponse:
    """Create the template (audited)."""
    services = services_of(request)
    post = await request.post()
    tiers = [v for v in post.getall("eligible_tiers", []) if isinstance(v, str)]
    values, typed, reader = _read(dict(await form_data(request)), tiers, services.config.brand.tz)
    if reader.errors:
        return await _form_page(request, None, typed, reader.errors, 400)
    try:
        template = await coupon_templates.create_template(services, current_staff(request), values)
    except DomainError as exc:
        _refused(reader.errors, exc, values["kind"])
        return await _form_page(request, None, typed, reader.errors, exc.status)
    raise web.HTTPSeeOther(f"/console/setup/coupons/{template.id}?saved=created")


@pages.get("/setup/coupons/{template_id}", area=Area.SETUP)
async def template_page(request: web.Request, template_id: int) -> web.StreamResponse:
    """One template: its standing, stopping it, adding stock, and its form."""
    template = await coupon_templates.get_template(template_id)
    tz = services_of(request).config.brand.tz
    return await _form_page(request, template, _values_of(template, tz), {})


@pages.post("/setup/coupons/{template_id}", area=Area.SETUP)
async def update_template(request: web.Request, template_id: int) -> web.StreamResponse:
    """Save the template's fields; what coupons already out promised stays locked (audited)."""
    services = services_of(request)
    template = await coupon_templates.get_template(template_id)
    post = await request.post()
    tiers = [v for v in post.getall("eligible_tiers", []) if isinstance(v, str)]
    values, typed, reader = _read(dict(await form_data(request)), tiers, services.config.brand.tz)
    if reader.errors:
        return await _form_page(request, template, typed, reader.errors, 400)
    # Only what the operator changed goes to the handler: saving an unchanged form writes nothing.
    changes = {name: value for name, value in values.items() if value != getattr(template, name)}
    try:
        if changes:
            await coupon_templates.update_template(
                services, current_staff(request), template_id, changes
            )
    except DomainError as exc:
        _refused(reader.errors, exc, values["kind"])
        return await _form_page(request, template, typed, reader.errors, exc.status)
    raise web.HTTPSeeOther(f"/console/setup/coupons/{template_id}?saved=updated")


@pages.post("/setup/coupons/{template_id}/stop", area=Area.SETUP)
async def stop_template(request: web.Request, template_id: int) -> web.StreamResponse:
    """No more claims or issues; coupons already out stay valid (audited)."""
    await coupon_templates.stop_template(services_of(request), current_staff(request), template_id)
    raise web.HTTPSeeOther(f"/console/setup/coupons/{template_id}?saved=stopped")


@pages.post("/setup/coupons/{template_id}/stock", area=Area.SETUP)
async def add_stock(request: web.Request, template_id: int) -> web.StreamResponse:
    """Add coupons to the template's stock (audited)."""
    services = services_of(request)
    template = await coupon_templates.get_template(template_id)
    reader = FormReader(await form_data(request))
    add = reader.required_whole("add", low=1, high=coupon_templates.MAX_STOCK)
    errors, status = dict(reader.errors), 400
    if not errors:
        try:
            await coupon_templates.add_stock(services, current_staff(request), template_id, add)
        except DomainError as exc:
            errors["add"], status = exc.code, exc.status
    if errors:
        tz = services.config.brand.tz
        values = _values_of(template, tz) | {"add": reader.raw("add")}
        return await _form_page(request, template, values, errors, status)
    raise web.HTTPSeeOther(f"/console/setup/coupons/{template_id}?saved=stock")
