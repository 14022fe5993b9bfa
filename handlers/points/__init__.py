"""The points ledger: earning, spending, refunds, adjustments and expiry of lots."""

from __future__ import annotations

from handlers.points.ledger import (
    MAX_AMOUNT,
    adjust,
    adjustment_key,
    earn,
    expire_due_lots,
    expire_member,
    refund_spend,
    spend,
    take_back,
)
from handlers.points.opening import OpeningBalance, open_balances

__all__ = [
    "MAX_AMOUNT",
    "OpeningBalance",
    "adjust",
    "adjustment_key",
    "earn",
    "expire_due_lots",
    "expire_member",
    "open_balances",
    "refund_spend",
    "spend",
    "take_back",
]
