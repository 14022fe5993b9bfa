"""The cashier's till: identify a member, credit a purchase, refund it."""

from __future__ import annotations

from handlers.pos.purchases import (
    identify,
    purchase_public,
    record_purchase,
    refund_public,
    refund_purchase,
    till_purchase,
    till_refund,
)

__all__ = [
    "identify",
    "purchase_public",
    "record_purchase",
    "refund_public",
    "refund_purchase",
    "till_purchase",
    "till_refund",
]
