"""The points mall: items, redemption (points, stock and order in one go), orders and fulfilment."""

from __future__ import annotations

from handlers.mall.catalogue import (
    browse,
    item_for_member,
    member_counts,
    member_view,
    month_key,
    on_sale,
    period_of,
    remaining,
    stock_state,
)

__all__ = [
    "browse",
    "item_for_member",
    "member_counts",
    "member_view",
    "month_key",
    "on_sale",
    "period_of",
    "remaining",
    "stock_state",
]
