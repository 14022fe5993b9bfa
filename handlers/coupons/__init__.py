"""Coupons: templates, the coupon centre and claims, coupons in members' hands, the cashier's
write-off.
"""

from __future__ import annotations

from handlers.coupons.issuing import (
    TAKE_STOCK,
    clear_sold_out,
    flag_sold_out,
    flagged_sold_out,
    grant_coupon,
    grant_key,
    insert_coupon,
    issue,
    issue_coupon,
    mark_expired_coupons,
    member_coupons,
    sold_out,
    soldout_key,
    take_stock,
)

__all__ = [
    "clear_sold_out",
    "flag_sold_out",
    "flagged_sold_out",
    "grant_coupon",
    "grant_key",
    "insert_coupon",
    "issue",
    "issue_coupon",
    "mark_expired_coupons",
    "member_coupons",
    "TAKE_STOCK",
    "sold_out",
    "soldout_key",
    "take_stock",
]
