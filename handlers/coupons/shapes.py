"""Shapes: the answer models of the dicts this capability builds, shared by the channels."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from wxmember.core.answers import Answer
from wxmember.core.models.coupons import CouponKind, CouponSource, CouponStatus, Obtain

TemplateStatus = Literal["stopped", "ended", "sold_out", "scheduled", "active"]


# built by `template_public`
class CouponTemplate(Answer):
    """A coupon template, times in the brand's zone; `remaining` and `total_stock` are null
    for unlimited stock."""

    id: int
    title: str
    kind: CouponKind
    value: int
    threshold_fen: int
    max_discount_fen: int | None
    description: str
    total_stock: int | None
    remaining: int | None
    claimed: int
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


# built by `coupon_public`
class MemberCoupon(Answer):
    """A coupon as members and cashiers see it, times in the brand's zone."""

    id: int
    code: str
    code_display: str
    template_id: int
    title: str
    kind: CouponKind
    value: int
    threshold_fen: int
    max_discount_fen: int | None
    description: str
    terms: str
    status: CouponStatus
    usable_now: bool
    valid_from: datetime
    valid_until: datetime
    source: CouponSource
    obtained_at: datetime
    used_at: datetime | None
    order_no: str | None
    discount_fen: int | None


class MemberCouponPage(Answer):
    items: list[MemberCoupon]
    next_cursor: str | None
