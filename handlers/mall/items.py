"""Mall items as operators manage them: create, edit, stock, and code pools of virtual items.

Every write is audited in its own transaction. Stock changes are conditional updates, never a
read-then-write. A virtual item's stock is the number of its unassigned codes: it grows only
by uploading codes, under the item's row lock so uploads of the same codes cannot double-count.
Price changes apply to new redemptions only: orders keep the unit price they paid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints
from tortoise.expressions import F

from handlers import audit
from wxmember.core.errors import Conflict, ItemNotFound, ValidationFailed
from wxmember.core.inputs import MAX_ID, Body, CleanLines, CleanText, MaybeId, Moment
from wxmember.core.kernel import continue_after, transaction
from wxmember.core.models import Operator, Tier
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.mall import ItemKind, LimitPeriod, MallCode, MallItem

MAX_PRICE = 10_000_000
MAX_STOCK = 10_000_000
MAX_CODES_PER_UPLOAD = 1000


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("must be an https:// URL")
    return value


ImageUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_https_url)]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), CleanText
]
Description = Annotated[str, StringConstraints(max_length=2000), CleanLines]
Price = Annotated[int, Field(strict=True, ge=1, le=MAX_PRICE)]
MaybePrice = Annotated[int | None, Field(strict=True, ge=1, le=MAX_PRICE)]
MaybeLimitCount = Annotated[int | None, Field(strict=True, ge=1, le=1000)]
# Tier levels that exist are the handler's to judge; these bound what a level column holds.
TierLevels = Annotated[
    list[Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]], Field(max_length=50)
]
DISPLAY_ORDER = 1_000_000
DisplayOrder = Annotated[int, Field(strict=True, ge=-DISPLAY_ORDER, le=DISPLAY_ORDER)]
MaybeDisplayOrder = Annotated[int | None, Field(strict=True, ge=-DISPLAY_ORDER, le=DISPLAY_ORDER)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ItemCreate(Body):
    """The fields of a new item."""

    title: Title
    description: Description = ""
    images: Annotated[list[ImageUrl], Field(max_length=9)] = []
    kind: ItemKind
    coupon_template_id: MaybeId = None
    points_price: Price
    stock: Annotated[int, Field(strict=True, ge=0, le=MAX_STOCK)] = 0
    limit_period: LimitPeriod = LimitPeriod.LIFETIME
    limit_count: MaybeLimitCount = None
    tier_levels: TierLevels = []
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    display_order: DisplayOrder = 0
    active: bool = False


class ItemPatch(Body):
    """Fields an operator may change; kind and stock are not among them (stock has its own)."""

    title: Title | None = None
    description: Description | None = None
    images: Annotated[list[ImageUrl], Field(max_length=9)] | None = None
    coupon_template_id: MaybeId = None
    points_price: MaybePrice = None
    limit_period: LimitPeriod | None = None
    limit_count: MaybeLimitCount = None
    tier_levels: TierLevels | None = None
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    display_order: MaybeDisplayOrder = None
    active: bool | None = None


# Fields that may be set back to null by a patch; the others ignore an explicit null.
_NULLABLE = {"coupon_template_id", "limit_count", "sale_starts_at", "sale_ends_at"}


class StockChange(Body):
    add: Annotated[int, Field(strict=True, ge=-MAX_STOCK, le=MAX_STOCK)]


class CodesUpload(Body):
    codes: Annotated[list[Code], Field(min_length=1, max_length=MAX_CODES_PER_UPLOAD)]


def admin_view(item: MallItem) -> dict[str, Any]:
    """An item as operators see it (and as the audit log records it)."""
    return {
        "id": item.id,
        "title": item.title,
        "description": item.description,
        "images": item.images,
        "kind": ItemKind(item.kind).value,
        "coupon_template_id": item.coupon_template_id,
        "points_price": item.points_price,
        "stock": item.stock,
        "sold": item.sold,
        "limit_period": LimitPeriod(item.limit_period).value,
        "limit_count": item.limit_count,
        "tier_levels": item.tier_levels,
        "sale_starts_at": _iso(item.sale_starts_at),
        "sale_ends_at": _iso(item.sale_ends_at),
        "display_order": item.display_order,
        "active": item.active,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _check_coupon_template(template_id: int) -> None:

    if not await CouponTemplate.exists(id=template_id):
        raise ValidationFailed(
            "coupon_template_id: no such coupon template.", code="invalid_coupon_template_id"
        )


async def _check_values(values: dict[str, Any], kind: ItemKind) -> None:
    """Rules across fields, checked on the item as it would be after the write."""
    template_id = values.get("coupon_template_id")
    if kind is ItemKind.COUPON:
        if template_id is None:
            raise ValidationFailed(
                "coupon_template_id: a coupon item needs a coupon template.",
                code="invalid_coupon_template_id",
            )
        await _check_coupon_template(template_id)
    elif template_id is not None:
        raise ValidationFailed(
            "coupon_template_id: only coupon items have a coupon template.",
            code="invalid_coupon_template_id",
        )
    starts, ends = values.get("sale_starts_at"), values.get("sale_ends_at")
    if starts is not None and ends is not None and starts >= ends:
        raise ValidationFailed(
            "sale_ends_at must be after sale_starts_at.", code="invalid_sale_window"
        )
    levels = values.get("tier_levels") or []
    if len(set(levels)) != len(levels):
        raise ValidationFailed("tier_levels: a level is repeated.", code="invalid_tier_levels")
    if levels and await Tier.filter(level__in=levels).count() != len(levels):
        raise ValidationFailed(
            "tier_levels: no tier has one of these levels.", code="invalid_tier_levels"
        )


async def create_item(actor: Operator, data: ItemCreate) -> MallItem:
    """Create an item (audited). Virtual items start empty: their stock comes from codes."""
    if data.kind is ItemKind.VIRTUAL and data.stock:
        raise ValidationFailed(
            "stock: a virtual item's stock is its unassigned codes; upload codes instead.",
            code="invalid_stock",
        )
    values = data.model_dump()
    await _check_values(values, data.kind)
    async with transaction() as conn:
        item = await MallItem.create(**values, using_db=conn)
        await audit.record(
            actor, "mall_item.create", "mall_item", item.id, after=admin_view(item), using_db=conn
        )
    return item


async def get_item(item_id: int) -> MallItem:
    """One item, whatever its state; NotFound `item_not_found`."""
    item = await MallItem.get_or_none(id=item_id)
    if item is None:
        raise ItemNotFound()
    return item


async def update_item(actor: Operator, item_id: int, patch: ItemPatch) -> MallItem:
    """Change an item's fields (audited); orders already placed keep the price they paid."""
    changes = {
        name: getattr(patch, name)
        for name in patch.model_fields_set
        if getattr(patch, name) is not None or name in _NULLABLE
    }
    async with transaction() as conn:
        item = await MallItem.select_for_update().using_db(conn).get_or_none(id=item_id)
        if item is None:
            raise ItemNotFound()
        before = admin_view(item)
        merged = {
            "coupon_template_id": item.coupon_template_id,
            "sale_starts_at": item.sale_starts_at,
            "sale_ends_at": item.sale_ends_at,
            "tier_levels": item.tier_levels,
        } | changes
        await _check_values(merged, ItemKind(item.kind))
        if not changes:
            return item
        item.update_from_dict(changes)
        await item.save(using_db=conn, update_fields=[*changes, "updated_at"])
        await audit.record(
            actor,
            "mall_item.update",
            "mall_item",
            item.id,
            before=before,
            after=admin_view(item),
            using_db=conn,
        )
    return item


async def change_stock(actor: Operator, item_id: int, add: int) -> MallItem:
    """Add (or with a negative number, withdraw) stock by a conditional update (audited)."""
    if add == 0:
        raise ValidationFailed("add: must not be 0.", code="invalid_add")
    async with transaction() as conn:
        item = await MallItem.filter(id=item_id).using_db(conn).first()
        if item is None:
            raise ItemNotFound()
        if item.kind == ItemKind.VIRTUAL:
            raise Conflict(
                "A virtual item's stock is its unassigned codes; upload codes instead.",
                code="stock_from_codes",
            )
        query = MallItem.filter(id=item_id)
        query = (
            query.filter(stock__lte=MAX_STOCK - add) if add > 0 else query.filter(stock__gte=-add)
        )
        if not await query.using_db(conn).update(stock=F("stock") + add):
            code, message = (
                ("stock_too_high", f"Stock cannot exceed {MAX_STOCK}.")
                if add > 0
                else ("stock_too_low", "Not that much stock is left to withdraw.")
            )
            raise Conflict(message, code=code)
        await item.refresh_from_db(using_db=conn)
        await audit.record(
            actor,
            "mall_item.stock",
            "mall_item",
            item.id,
            before={"stock": item.stock - add},
            after={"stock": item.stock, "add": add},
            using_db=conn,
        )
    return item


async def upload_codes(actor: Operator, item_id: int, codes: list[str]) -> tuple[MallItem, int]:
    """Add codes to a virtual item's pool; codes already in it are skipped. Audited by count."""
    unique = list(dict.fromkeys(codes))
    async with transaction() as conn:
        # The item's row lock serialises uploads (and redemptions) of this item, so the codes
        # known below are all there are and the stock stays equal to the unassigned codes.
        item = await MallItem.select_for_update().using_db(conn).get_or_none(id=item_id)
        if item is None:
            raise ItemNotFound()
        if item.kind != ItemKind.VIRTUAL:
            raise Conflict("Only virtual items have a code pool.", code="not_virtual")
        known = set(
            await MallCode.filter(item_id=item_id, code__in=unique)
            .using_db(conn)
            .values_list("code", flat=True)
        )
        fresh = [code for code in unique if code not in known]
        if fresh:
            await MallCode.bulk_create(
                [MallCode(item_id=item_id, code=code) for code in fresh], using_db=conn
            )
            await MallItem.filter(id=item_id).using_db(conn).update(stock=F("stock") + len(fresh))
            await item.refresh_from_db(using_db=conn)
        await audit.record(
            actor,
            "mall_item.codes",
            "mall_item",
            item.id,
            before={"stock": item.stock - len(fresh)},
            after={"stock": item.stock, "codes_added": len(fresh)},
            using_db=conn,
        )
    return item, len(fresh)


async def list_items(
    after_id: int | None, limit: int, *, kind: ItemKind | None, active: bool | None
) -> list[MallItem]:
    """Every item for operators, newest first, `limit + 1` rows for paging."""
    query = MallItem.all().order_by("-id")
    query = continue_after(query, after_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if active is not None:
        query = query.filter(active=active)
    return await query.limit(limit + 1)
