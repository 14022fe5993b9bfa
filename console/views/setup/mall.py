"""Mall items (积分商城): the list; creating and editing an item; changing its stock; uploading
a virtual item's codes from a CSV file.

Fields are checked by the handler's own models (`ItemCreate`, `ItemPatch`) and rules
(`handlers.mall.items`); images are https URLs, shown as links (the console loads nothing from
other sites). A virtual item's stock is its unassigned codes: it grows by uploading codes.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.web_request import FileField

from console.i18n import translate
from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import (
    FormReader,
    field_of,
    local_input,
    services_of,
    setup_render,
)
from handlers.coupons import templates as coupon_templates
from handlers.mall import items as mall_items
from handlers.operators.permissions import Area
from handlers.tiers import ladder
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.inputs import Page, encode_cursor, printable, read_query, validate
from wxmember.core.models.mall import ItemKind, LimitPeriod, MallItem

pages = Pages()

PAGE_SIZE = 20
MAX_CODES_PER_FILE = 20_000
KINDS = tuple(kind.value for kind in ItemKind)
PERIODS = tuple(period.value for period in LimitPeriod)
FIELDS = (
    "title",
    "description",
    "images",
    "kind",
    "coupon_template_id",
    "points_price",
    "stock",
    "limit_period",
    "limit_count",
    "tier_levels",
    "sale_starts_at",
    "sale_ends_at",
    "display_order",
    "active",
)
ALIASES = {"invalid_sale_window": "sale_ends_at"}
_COUNT = re.compile(r"^[0-9]{1,6}$", re.ASCII)


def _values_of(item: MallItem | None, tz: ZoneInfo) -> dict[str, Any]:
    if item is None:
        return {
            "kind": "physical",
            "stock": "0",
            "limit_period": "lifetime",
            "display_order": "0",
            "tier_levels": [],
            "active": False,
        }
    return {
        "title": item.title,
        "description": item.description,
        "images": "\n".join(item.images),
        "kind": ItemKind(item.kind).value,
        "coupon_template_id": str(item.coupon_template_id or ""),
        "points_price": str(item.points_price),
        "stock": str(item.stock),
        "limit_period": LimitPeriod(item.limit_period).value,
        "limit_count": "" if item.limit_count is None else str(item.limit_count),
        "tier_levels": [str(level) for level in item.tier_levels],
        "sale_starts_at": local_input(item.sale_starts_at, tz),
        "sale_ends_at": local_input(item.sale_ends_at, tz),
        "display_order": str(item.display_order),
        "active": item.active,
    }


def _read(
    form: dict[str, str], levels: list[str], tz: ZoneInfo, kind: str | None
) -> tuple[dict[str, Any], dict[str, Any], FormReader]:
    """The item's fields (for `ItemCreate`, or with `kind` given, for `ItemPatch`)."""
    reader = FormReader(form, tz)
    kind = kind or reader.choice("kind", KINDS)
    images = [line.strip() for line in form.get("images", "").splitlines() if line.strip()]
    data: dict[str, Any] = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "images": images,
        "coupon_template_id": (
            reader.whole("coupon_template_id", low=1) if kind == ItemKind.COUPON else None
        ),
        "points_price": reader.required_whole("points_price", low=0),
        "limit_period": reader.choice("limit_period", PERIODS),
        "limit_count": reader.whole("limit_count", low=0),
        "tier_levels": reader.ids(levels, "tier_levels", high=2**31 - 1),
        "sale_starts_at": reader.moment("sale_starts_at"),
        "sale_ends_at": reader.moment("sale_ends_at"),
        "display_order": reader.required_whole("display_order"),
        "active": reader.flag("active"),
    }
    if "kind" in form:  # a new item: its kind, and (but for virtual items) its first stock
        data["kind"] = kind
        data["stock"] = reader.whole("stock", low=0) or 0
    typed: dict[str, Any] = {name: form.get(name, "") for name in FIELDS}
    typed |= {"tier_levels": levels, "active": data["active"], "kind": kind}
    return data, typed, reader


def _refused(errors: dict[str, str], exc: DomainError) -> None:
    errors.setdefault(field_of(exc, FIELDS, ALIASES), exc.code)


async def _form_page(
    request: web.Request,
    item: MallItem | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    **extra: Any,
) -> web.Response:
    templates = await coupon_templates.list_templates(None, 200)
    return setup_render(
        request,
        "setup/item_form.html",
        status=status,
        item=item,
        values=values,
        errors=errors,
        tiers=await ladder.list_tiers(),
        kind_options=[(kind, translate(f"setup.item_kinds.{kind}")) for kind in KINDS],
        period_options=[(p, translate(f"setup.limit_periods.{p}")) for p in PERIODS],
        template_options=[(str(t.id), f"{t.title} (#{t.id})") for t in templates],
        saved=_saved(request),
        uploaded=_uploaded(request),
        **extra,
    )


def _saved(request: web.Request) -> str | None:
    saved = request.query.get("saved")
    return saved if saved in ("created", "updated", "stock") else None


def _uploaded(request: web.Request) -> dict[str, int] | None:
    added, skipped = request.query.get("added", ""), request.query.get("skipped", "")
    if _COUNT.match(added) and _COUNT.match(skipped):
        return {"added": int(added), "skipped": int(skipped)}
    return None


def _levels(post: Any) -> list[str]:
    return [value for value in post.getall("tier_levels", []) if isinstance(value, str)]


@pages.get("/setup/mall", area=Area.SETUP)
async def items_page(request: web.Request) -> web.StreamResponse:
    """Every item, on sale or not, newest first."""
    query = read_query(request, Page)
    found = await mall_items.list_items(query.cursor, PAGE_SIZE, kind=None, active=None)
    shown = found[:PAGE_SIZE]
    next_url = None
    if len(found) > PAGE_SIZE:
        next_url = f"/console/setup/mall?cursor={encode_cursor(shown[-1].id)}"
    return setup_render(
        request,
        "setup/mall.html",
        items=shown,
        next_url=next_url,
        first_url="/console/setup/mall" if query.cursor is not None else None,
        saved=_saved(request),
    )


@pages.get("/setup/mall/new", area=Area.SETUP)
async def new_item(request: web.Request) -> web.StreamResponse:
    """The form for a new item."""
    return await _form_page(
        request, None, _values_of(None, services_of(request).config.brand.tz), {}
    )


@pages.post("/setup/mall/new", area=Area.SETUP)
async def create_item(request: web.Request) -> web.StreamResponse:
    """Create the item (audited); a virtual item starts without stock, its codes bring it."""
    tz = services_of(request).config.brand.tz
    form = dict(await form_data(request))
    form.setdefault("kind", "")
    data, typed, reader = _read(form, _levels(await request.post()), tz, None)
    if reader.errors:
        return await _form_page(request, None, typed, reader.errors, 400)
    try:
        item = await mall_items.create_item(
            current_staff(request), validate(mall_items.ItemCreate, data)
        )
    except DomainError as exc:
        _refused(reader.errors, exc)
        return await _form_page(request, None, typed, reader.errors, exc.status)
    raise web.HTTPSeeOther(f"/console/setup/mall/{item.id}?saved=created")


@pages.get("/setup/mall/{item_id}", area=Area.SETUP)
async def item_page(request: web.Request, item_id: int) -> web.StreamResponse:
    """One item: its form, and its stock (or, for a virtual item, its codes)."""
    item = await mall_items.get_item(item_id)
    return await _form_page(
        request, item, _values_of(item, services_of(request).config.brand.tz), {}
    )


@pages.post("/setup/mall/{item_id}", area=Area.SETUP)
async def update_item(request: web.Request, item_id: int) -> web.StreamResponse:
    """Save the item's fields (audited); orders already placed keep the price they paid."""
    item = await mall_items.get_item(item_id)
    tz = services_of(request).config.brand.tz
    form = dict(await form_data(request))
    form.pop("kind", None)
    data, typed, reader = _read(form, _levels(await request.post()), tz, ItemKind(item.kind).value)
    if reader.errors:
        return await _form_page(request, item, typed, reader.errors, 400)
    try:
        patch = validate(mall_items.ItemPatch, data)
        # Only what the operator changed goes to the handler: an unchanged form writes nothing.
        changed = {name: data[name] for name in data if getattr(patch, name) != getattr(item, name)}
        await mall_items.update_item(
            current_staff(request), item_id, validate(mall_items.ItemPatch, changed)
        )
    except DomainError as exc:
        _refused(reader.errors, exc)
        return await _form_page(request, item, typed, reader.errors, exc.status)
    raise web.HTTPSeeOther(f"/console/setup/mall/{item_id}?saved=updated")


@pages.post("/setup/mall/{item_id}/stock", area=Area.SETUP)
async def change_stock(request: web.Request, item_id: int) -> web.StreamResponse:
    """Add stock, or withdraw it with a negative number (audited)."""
    item = await mall_items.get_item(item_id)
    reader = FormReader(await form_data(request))
    add = reader.required_whole("add", low=-mall_items.MAX_STOCK, high=mall_items.MAX_STOCK)
    errors, status = dict(reader.errors), 400
    if not errors:
        try:
            await mall_items.change_stock(current_staff(request), item_id, add)
        except DomainError as exc:
            errors["add"], status = exc.code, exc.status
    if errors:
        tz = services_of(request).config.brand.tz
        values = _values_of(item, tz) | {"add": reader.raw("add")}
        return await _form_page(request, item, values, errors, status)
    raise web.HTTPSeeOther(f"/console/setup/mall/{item_id}?saved=stock")


@pages.post("/setup/mall/{item_id}/codes", area=Area.SETUP)
async def upload_codes(request: web.Request, item_id: int) -> web.StreamResponse:
    """Add the codes of a CSV file to a virtual item's pool; codes already there are skipped."""
    item = await mall_items.get_item(item_id)
    post = await request.post()
    upload = post.get("codes_file")
    content = upload.file.read() if isinstance(upload, FileField) else b""
    try:
        codes = read_codes(content)
    except ValidationFailed as exc:
        tz = services_of(request).config.brand.tz
        line = exc.details.get("line")
        return await _form_page(
            request, item, _values_of(item, tz), {"codes_file": exc.code}, 400, bad_line=line
        )
    added = 0
    step = mall_items.MAX_CODES_PER_UPLOAD
    for start in range(0, len(codes), step):
        # Each batch is one transaction; uploading the same file again skips what got in.
        _, fresh = await mall_items.upload_codes(
            current_staff(request), item_id, codes[start : start + step]
        )
        added += fresh
    raise web.HTTPSeeOther(
        f"/console/setup/mall/{item_id}?added={added}&skipped={len(codes) - added}"
    )


def read_codes(content: bytes) -> list[str]:
    """The codes of an uploaded file: one per line, or the `code` column of a CSV with a header
    row. 400 `codes_file_empty`, `codes_file_unreadable`, `codes_file_too_long`, or
    `codes_file_bad_code` (details: the line)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise ValidationFailed("not text", code="codes_file_unreadable") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise ValidationFailed("not CSV", code="codes_file_unreadable") from None
    column, first = 0, 0
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "code" in header:
        column, first = header.index("code"), 1
    codes = []
    for number, row in enumerate(rows[first:], start=first + 1):
        cell = row[column].strip() if len(row) > column else ""
        if not cell:
            if any(part.strip() for part in row):
                raise _bad_code(number)
            continue  # a blank line
        try:
            printable(cell)
        except ValueError:
            raise _bad_code(number) from None
        if len(cell) > 64:
            raise _bad_code(number)
        codes.append(cell)
        if len(codes) > MAX_CODES_PER_FILE:
            raise ValidationFailed("too many codes", code="codes_file_too_long")
    if not codes:
        raise ValidationFailed("no codes", code="codes_file_empty")
    return codes


def _bad_code(line: int) -> ValidationFailed:
    return ValidationFailed(f"line {line}", code="codes_file_bad_code", details={"line": line})
