"""What the staff API answers, as pydantic models, for its OpenAPI document.

Each model mirrors exactly the dict its handler builds (`response=` on the route); the views
still return those dicts. Unknown fields are refused, so the tests that check real answers
against these models notice a field added to a handler and not here. Shapes the mini-program
answers too live beside their builders, in the capability's `shapes` module
(`handlers/<capability>/shapes.py`), and are imported here: the channels share no code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from handlers.coupons.shapes import CouponTemplate
from handlers.members.shapes import TierBrief
from handlers.points.shapes import LedgerEntry, LedgerPage
from wxmember.core.answers import Answer

__all__ = ["Answer", "CouponTemplate", "LedgerEntry", "LedgerPage", "TierBrief"]


# --------------------------------------------------------------------------- members


class StaffMember(Answer):
    """A member as staff see them; the phone masked unless an owner revealed it."""

    id: int
    card_no: str | None
    name: str | None
    gender: str | None
    birthday: date | None
    phone: str | None
    phone_revealed: bool
    tier: TierBrief | None
    points: int
    points_debt: int
    growth: int
    follows_official_account: bool
    card_opened_at: datetime | None
    created_at: datetime


class MemberDetail(StaffMember):
    birthday_changes: int


class MemberPage(Answer):
    items: list[StaffMember]
    next_cursor: str | None


# --------------------------------------------------------------------------- points


# --------------------------------------------------------------------------- coupon templates


class CouponTemplatePage(Answer):
    items: list[CouponTemplate]
    next_cursor: str | None


# --------------------------------------------------------------------------- tiers


class Tier(Answer):
    """A rung of the ladder."""

    id: int
    name: str
    level: int
    color: str
    growth_threshold: int
    retention_threshold: int
    multiplier_percent: int
    benefits: list[dict[str, Any]]
    upgrade_gift_points: int


class LadderTier(Tier):
    member_count: int


class Ladder(Answer):
    """The ladder, lowest level first."""

    items: list[LadderTier]


# --------------------------------------------------------------------------- the till


class TillTier(Answer):
    id: int
    name: str
    level: int


class TillMember(Answer):
    """A member as the till shows them, the phone masked."""

    member_id: int
    name: str | None
    phone: str | None
    card_no: str | None
    tier: TillTier | None
    points_balance: int
    points_debt: int


class TillPurchase(Answer):
    """A purchase, and the member's points after it; `replayed` when the order was recorded
    before (answered 200)."""

    order_no: str
    member_id: int
    amount_fen: int
    store: str | None
    multiplier_percent: int
    points: int
    growth: int
    refunded_fen: int
    points_taken_back: int
    growth_taken_back: int
    created_at: datetime
    balance: int
    debt: int
    replayed: bool


class TillRefund(Answer):
    """A refund, its purchase's totals after it, and the member's points now; `replayed`
    when the refund number was recorded before (answered 200)."""

    order_no: str
    refund_no: str
    amount_fen: int
    points_taken_back: int
    points_shortfall: int
    growth_taken_back: int
    refunded_fen: int
    refundable_fen: int
    balance: int
    debt: int
    created_at: datetime
    replayed: bool
