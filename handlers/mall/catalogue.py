"""The points mall as members see it, and the sale rules every mall operation shares.

Members see items that are on and within their sale window, in display order, each with a stock
state (never the figure), whether their tier may redeem it and what their limit leaves them.
Limits count per member and item in two rows: `lifetime` and the local month `YYYY-MM`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from handlers.tiers.eligibility import eligible, member_level
from wxmember.core.context import Services
from wxmember.core.errors import ItemNotFound, ValidationFailed
from wxmember.core.kernel import id_fits
from wxmember.core.models import Member
from wxmember.core.models.mall import ItemKind, LimitPeriod, MallItem, MallRedemptionCount

LOW_STOCK = 10
LIFETIME = "lifetime"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def month_key(services: Services) -> str:
    """The member-limit period of now: the local month, `YYYY-MM`."""
    return services.clock.local_now(services.config.brand.tz).strftime("%Y-%m")


def on_sale(item: MallItem, now: datetime) -> bool:
    """On, and inside its sale window."""
    return (
        item.active
        and (item.sale_starts_at is None or item.sale_starts_at <= now)
        and (item.sale_ends_at is None or now < item.sale_ends_at)
    )


def stock_state(item: MallItem) -> str:
    if item.stock <= 0:
        return "sold_out"
    return "low" if item.stock <= LOW_STOCK else "in_stock"


def period_of(item: MallItem, month: str) -> str:
    return LIFETIME if item.limit_period == LimitPeriod.LIFETIME else month


def remaining(item: MallItem, counts: dict[tuple[int, str], int], month: str) -> int | None:
    """Units the member may still redeem under the item's limit; None when unlimited."""
    if item.limit_count is None:
        return None
    return max(0, item.limit_count - counts.get((item.id, period_of(item, month)), 0))


def member_view(
    item: MallItem,
    member: Member,
    level: int | None,
    counts: dict[tuple[int, str], int],
    month: str,
) -> dict[str, Any]:
    """An item as a member sees it: no stock figure, a state; eligibility and allowance."""
    return {
        "id": item.id,
        "title": item.title,
        "description": item.description,
        "images": item.images,
        "kind": ItemKind(item.kind).value,
        "points_price": item.points_price,
        "stock_state": stock_state(item),
        "limit": (
            None
            if item.limit_count is None
            else {"period": LimitPeriod(item.limit_period).value, "count": item.limit_count}
        ),
        "remaining": remaining(item, counts, month),
        "eligible": eligible(item.tier_levels, level),
        "affordable": item.points_price <= member.points_balance,
        "sale_ends_at": _iso(item.sale_ends_at),
    }


async def member_counts(
    member_id: int, item_ids: list[int], month: str
) -> dict[tuple[int, str], int]:
    """The member's redemption counts of these items, lifetime and this month, in one query."""
    if not item_ids:
        return {}
    rows = await MallRedemptionCount.filter(
        member_id=member_id, item_id__in=item_ids, period__in=[LIFETIME, month]
    ).values_list("item_id", "period", "count")
    return {(item_id, period): count for item_id, period, count in rows}


def _on_sale_query(now: datetime) -> Any:
    return (
        MallItem.filter(active=True)
        .filter(Q(sale_starts_at__isnull=True) | Q(sale_starts_at__lte=now))
        .filter(Q(sale_ends_at__isnull=True) | Q(sale_ends_at__gt=now))
    )


async def browse(
    services: Services,
    member: Member,
    after_id: int | None,
    limit: int,
    *,
    kind: ItemKind | None = None,
    affordable: bool = False,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Items on sale in display order, `limit + 1` of them, rendered for this member."""
    now = services.clock.now()
    query = _on_sale_query(now)
    if kind is not None:
        query = query.filter(kind=kind)
    if affordable:
        query = query.filter(points_price__lte=member.points_balance)
    if after_id is not None:
        found = MallItem.get_or_none(id=after_id) if id_fits(MallItem, after_id) else None
        last = await found.values("display_order") if found is not None else None
        if last is None:
            raise ValidationFailed("cursor is not valid.", code="invalid_cursor")
        position = last["display_order"]
        query = query.filter(
            Q(display_order__gt=position) | Q(display_order=position, id__gt=after_id)
        )
    items = await query.order_by("display_order", "id").limit(limit + 1)
    month = month_key(services)
    level = await member_level(member)
    counts = await member_counts(member.id, [item.id for item in items], month)
    return [member_view(item, member, level, counts, month) for item in items], [
        item.id for item in items
    ]


async def item_for_member(services: Services, member: Member, item_id: int) -> dict[str, Any]:
    """One item on sale, rendered for this member; NotFound `item_not_found` otherwise."""
    item = await MallItem.get_or_none(id=item_id)
    if item is None or not on_sale(item, services.clock.now()):
        raise ItemNotFound()
    month = month_key(services)
    counts = await member_counts(member.id, [item.id], month)
    return member_view(item, member, await member_level(member), counts, month)
