"""What the mini-program API answers, as pydantic models, for its OpenAPI document.

Each model mirrors exactly the dict its handler builds (`response=` on the route); the views
still return those dicts. Unknown fields are refused, so the tests that check real answers
against these models notice a field added to a handler and not here. Shapes the staff API
answers too live beside their builders, in the capability's `shapes` module
(`handlers/<capability>/shapes.py`), and are imported here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from handlers.coupons.shapes import MemberCoupon, MemberCouponPage, TemplateStatus
from handlers.mall.shapes import (
    IssuedCoupon,
    ItemLimit,
    MallOrder,
    MallOrderPage,
    OrderItem,
    Shipment,
    ShippingAddress,
)
from handlers.members.shapes import TierBrief
from handlers.points.shapes import LedgerEntry, LedgerPage
from wxmember.core.answers import Answer
from wxmember.core.models.coupons import CouponKind, Obtain
from wxmember.core.models.mall import ItemKind

__all__ = [
    "Answer",
    "IssuedCoupon",
    "LedgerEntry",
    "LedgerPage",
    "MallOrder",
    "MallOrderPage",
    "MemberCoupon",
    "MemberCouponPage",
    "OrderItem",
    "Shipment",
    "ShippingAddress",
    "TierBrief",
]


class Profile(Answer):
    """The member as the mini-program sees them (the phone masked)."""

    id: int
    name: str | None
    gender: str | None
    birthday: date | None
    birthday_changeable: bool
    phone: str | None
    has_card: bool
    card_no: str | None


class Session(Answer):
    token: str
    expires_in: int
    member: Profile
    has_card: bool


class WechatCard(Answer):
    """What `wx.addCard` needs to put the member's card into WeChat's card wallet.

    The mini-program calls `wx.addCard({cardList: [{cardId: card_id, cardExt: card_ext}]})`;
    `card_ext` is the JSON string to pass as it is (the code is the member's card number,
    signed). `in_wallet`: the member holds the card in the wallet, as WeChat last told us;
    `activated`: it shows the member's number, points and tier.
    """

    card_id: str
    card_ext: str
    in_wallet: bool
    activated: bool


class Card(Answer):
    """The card (the phone masked)."""

    card_no: str
    tier: TierBrief | None
    points: int
    growth: int
    name: str | None
    gender: str | None
    birthday: date | None
    phone: str | None
    opened_at: datetime | None


class MemberCode(Answer):
    """The dynamic member code the cashier scans."""

    code: str
    expires_at: datetime
    refresh_at: datetime
    period_seconds: int
    qr_svg: str


class ExpiringDay(Answer):
    date: date
    expires_at: datetime | None
    points: int


class Expiring(Answer):
    within_days: int
    total: int
    items: list[ExpiringDay]


class PointsSummary(Answer):
    balance: int
    debt: int
    expiring: Expiring


class Grants(Answer):
    """Per template id, the one-time grants the member holds now."""

    grants: dict[str, int]


class OfficialBinding(Answer):
    official_bound: bool


class LadderTier(Answer):
    id: int
    name: str
    level: int
    color: str
    growth_threshold: int
    retention_threshold: int
    multiplier_percent: int
    upgrade_gift_points: int
    benefits: list[Any]
    current: bool


class NextTier(TierBrief):
    growth_threshold: int
    growth_needed: int | None


class Retention(Answer):
    threshold: int
    growth_needed: int


class Period(Answer):
    kind: str
    start: date
    end: date


class TierOverview(Answer):
    tiers: list[LadderTier]
    current_tier: TierBrief | None
    next_tier: NextTier | None
    retention: Retention | None
    growth_this_period: int
    growth_total: int
    period: Period
    next_evaluation: date


# --------------------------------------------------------------------------- check-ins


class Tomorrow(Answer):
    """What checking in tomorrow would bring."""

    date: date
    streak: int
    points: int
    bonus_points: int


class CheckinResult(Answer):
    """A day's check-in: what it earned, the streak it made, and what tomorrow would bring."""

    day: date
    points: int
    base_points: int
    bonus_points: int
    streak: int
    cycle_day: int
    made_up: bool
    balance: int
    tomorrow: Tomorrow | None


class MakeupResult(CheckinResult):
    """A made-up day, the price paid, and the member's standing after it."""

    price_points: int
    current_streak: int
    makeup_left: int


class CalendarDay(Answer):
    date: date
    points: int
    bonus_points: int
    streak: int
    made_up: bool


class Makeups(Answer):
    """This month's make-ups: allowed, used, left, and the price of one."""

    month: str
    limit: int
    used: int
    left: int
    price_points: int


class CheckinCalendar(Answer):
    """A month's check-ins, the streak still alive and this month's make-ups."""

    month: str
    days: list[CalendarDay]
    today: date
    checked_in_today: bool
    streak: int
    makeup: Makeups


# --------------------------------------------------------------------------- points ledger


# --------------------------------------------------------------------------- coupons


class CentreCoupon(Answer):
    """A coupon centre card: the template, the stock left and what this member may do.

    `reason` says why the member may not claim now (`not_started`, `ended`, `not_eligible`,
    `limit_reached`, `sold_out`, ...); `coupon_valid_until` is set for templates whose coupons
    end on a fixed date.
    """

    id: int
    title: str
    kind: CouponKind
    value: int
    threshold_fen: int
    max_discount_fen: int | None
    description: str
    remaining: int | None
    per_member_limit: int
    claim_starts_at: datetime | None
    claim_ends_at: datetime | None
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    eligible_tiers: list[int]
    obtain: Obtain
    terms: str
    stopped: bool
    status: TemplateStatus
    created_at: datetime | None
    updated_at: datetime | None
    held: int
    claimed_by_me: int
    can_claim: bool
    claimable_count: int
    reason: str | None
    coupon_valid_until: datetime | None


class CentrePage(Answer):
    items: list[CentreCoupon]
    next_cursor: str | None


# --------------------------------------------------------------------------- mall


class MallItemView(Answer):
    """An item as a member sees it: a stock state rather than a figure, eligibility, allowance."""

    id: int
    title: str
    description: str
    images: list[str]
    kind: ItemKind
    points_price: int
    stock_state: Literal["in_stock", "low", "sold_out"]
    limit: ItemLimit | None
    remaining: int | None
    eligible: bool
    affordable: bool
    sale_ends_at: datetime | None


class MallItemPage(Answer):
    items: list[MallItemView]
    next_cursor: str | None


# --------------------------------------------------------------------------- export


class ExportProfile(Answer):
    id: int
    openid: str | None
    unionid: str | None
    official_openid: str | None
    name: str | None
    gender: str | None
    birthday: date | None
    birthday_changes: int
    phone: str | None
    created_at: datetime | None
    updated_at: datetime | None


class ExportPoints(Answer):
    balance: int
    debt: int


class MemberExport(Answer):
    """Everything held about the member, the phone in full; `records` holds every row of other
    tables that points at the member, by table name."""

    exported_at: datetime
    profile: ExportProfile
    card: Card | None
    points: ExportPoints
    growth: int
    records: dict[str, list[dict[str, Any]]]
