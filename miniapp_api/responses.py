"""What the mini-program API answers, as pydantic models, for its OpenAPI document.

Each model mirrors exactly the dict its handler builds (`response=` on the route); the views
still return those dicts. Unknown fields are refused, so the tests that check real answers
against these models notice a field added to a handler and not here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierBrief(Answer):
    id: int
    name: str
    level: int
    color: str


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
