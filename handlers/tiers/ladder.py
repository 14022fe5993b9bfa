"""The tier ladder as operators configure it: rules, benefits, create, update, delete.

Every change is checked against the WHOLE ladder as it would be afterwards, under a ladder lock,
in the transaction that writes it, so two operators editing at once cannot leave a ladder that
breaks a rule:
- levels and growth thresholds strictly increase together;
- exactly one entry tier: the lowest, at level 0 with growth threshold 0;
- retention threshold <= growth threshold; multiplier 100..1000 percent; colour #RRGGBB;
  name 1..16 characters, distinct; at most 20 tiers;
- benefits are a list of `{"title", "kind", ...}` (kinds below).
A tier that members hold cannot be deleted (409 `tier_in_use`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from handlers import audit
from wxmember.core.errors import Conflict, TierNotFound, ValidationFailed
from wxmember.core.inputs import CleanText
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator
from wxmember.core.models.tiers import Tier

MAX_TIERS = 20
NAME_MAX = 16
MULTIPLIER_RANGE = (100, 1000)
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Serialises ladder changes on PostgreSQL (SQLite serialises every transaction anyway).
_LADDER_LOCK_KEY = 0x7469_6572

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), CleanText
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]


class _Benefit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: Title
    description: Description = ""


class MultiplierBenefit(_Benefit):
    """Shows the tier's points multiplier (the rate itself is the tier's multiplier_percent)."""

    kind: Literal["points_multiplier"]


class BirthdayGiftBenefit(_Benefit):
    """A gift in the member's birthday month: a coupon of a template, points, or both."""

    kind: Literal["birthday_gift"]
    coupon_template_id: Annotated[int, Field(ge=1)] | None = None
    points: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _gives_something(self) -> BirthdayGiftBenefit:
        if self.coupon_template_id is None and self.points is None:
            raise ValueError("a birthday gift needs coupon_template_id or points")
        return self


class CouponPackItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    template_id: Annotated[int, Field(ge=1)]
    count: Annotated[int, Field(ge=1, le=10)] = 1


class MonthlyCouponsBenefit(_Benefit):
    """A pack of coupons issued every month to members of the tier."""

    kind: Literal["monthly_coupons"]
    coupons: Annotated[list[CouponPackItem], Field(min_length=1, max_length=10)]


class FreeShippingBenefit(_Benefit):
    """Free shipping on mall orders of at least `min_order_fen` (0: every order)."""

    kind: Literal["free_shipping"]
    min_order_fen: Annotated[int, Field(ge=0)] = 0


class TextBenefit(_Benefit):
    """A benefit shown to members and honoured by staff (no machine-readable parameters)."""

    kind: Literal["text"]


Benefit = Annotated[
    MultiplierBenefit
    | BirthdayGiftBenefit
    | MonthlyCouponsBenefit
    | FreeShippingBenefit
    | TextBenefit,
    Field(discriminator="kind"),
]
_BENEFITS = TypeAdapter(Annotated[list[Benefit], Field(max_length=20)])


def parse_benefits(raw: Any) -> list[dict[str, Any]]:
    """Benefits checked and normalised (defaults filled); 400 `invalid_benefits` otherwise."""
    try:
        parsed = _BENEFITS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("benefits", *first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(
            f"{where}: {message}", code="invalid_benefits", details={"field": where}
        ) from None
    return [benefit.model_dump(exclude_none=True) for benefit in parsed]


def benefits_of_kind(tier: Tier, kind: str) -> list[dict[str, Any]]:
    """The tier's benefits of one kind (e.g. "birthday_gift"), for the jobs that honour them."""
    return [benefit for benefit in tier.benefits or [] if benefit.get("kind") == kind]


@dataclass(frozen=True)
class Rung:
    """The configurable fields of a tier, as checked by the ladder rules."""

    name: str
    level: int
    color: str
    growth_threshold: int
    retention_threshold: int
    multiplier_percent: int
    benefits: list[dict[str, Any]]
    upgrade_gift_points: int
    id: int | None = None

    @classmethod
    def of(cls, tier: Tier) -> Rung:
        values = {f.name: getattr(tier, f.name) for f in fields(cls)}
        return cls(**values)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "id"}


EDITABLE = tuple(f.name for f in fields(Rung) if f.name != "id")


def _bad(code: str, message: str, rung: Rung) -> ValidationFailed:
    return ValidationFailed(f"{rung.name or 'tier'}: {message}", code=code)


def _check_rung(rung: Rung) -> None:
    if not 1 <= len(rung.name.strip()) <= NAME_MAX or rung.name != rung.name.strip():
        raise _bad("invalid_name", f"the name needs 1..{NAME_MAX} characters.", rung)
    if not _COLOUR.fullmatch(rung.color):
        raise _bad("invalid_color", "the colour must look like #D4A017.", rung)
    if rung.level < 0:
        raise _bad("invalid_level", "the level cannot be negative.", rung)
    if rung.growth_threshold < 0:
        raise _bad("invalid_growth_threshold", "the growth threshold cannot be negative.", rung)
    if not 0 <= rung.retention_threshold <= rung.growth_threshold:
        raise _bad(
            "invalid_retention_threshold",
            "the retention threshold must be 0..the growth threshold.",
            rung,
        )
    low, high = MULTIPLIER_RANGE
    if not low <= rung.multiplier_percent <= high:
        raise _bad("invalid_multiplier_percent", f"the multiplier must be {low}..{high}.", rung)
    if rung.upgrade_gift_points < 0:
        raise _bad("invalid_upgrade_gift_points", "the upgrade gift cannot be negative.", rung)
    parse_benefits(rung.benefits)


def validate_ladder(rungs: Sequence[Rung]) -> None:
    """Raise ValidationFailed naming the first rule the ladder breaks."""
    if len(rungs) > MAX_TIERS:
        raise ValidationFailed(f"A ladder has at most {MAX_TIERS} tiers.", code="too_many_tiers")
    for rung in rungs:
        _check_rung(rung)
    ordered = sorted(rungs, key=lambda r: r.level)
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if upper.level == lower.level:
            raise _bad("duplicate_level", f"level {upper.level} is taken by {lower.name}.", upper)
    if not ordered or ordered[0].level != 0 or ordered[0].growth_threshold != 0:
        raise ValidationFailed(
            "The ladder needs exactly one entry tier: the lowest, at level 0 with growth 0.",
            code="no_entry_tier",
        )
    names: set[str] = set()
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if upper.growth_threshold <= lower.growth_threshold:
            raise _bad(
                "thresholds_not_increasing",
                f"the growth threshold must be above {lower.name}'s ({lower.growth_threshold}).",
                upper,
            )
    for rung in ordered:
        if rung.name in names:
            raise _bad("duplicate_name", "another tier has this name.", rung)
        names.add(rung.name)


def public_tier(tier: Tier) -> dict[str, Any]:
    """A tier as the APIs and the audit log show it."""
    return {"id": tier.id, **Rung.of(tier).values()}


async def _lock_ladder(conn: BaseDBAsyncClient) -> list[Tier]:
    """The ladder, locked against other changes to it; every member's tier may change."""
    changed_everyone()
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_LADDER_LOCK_KEY])
    return await Tier.all().using_db(conn).order_by("level")


def _find(ladder: list[Tier], tier_id: int) -> Tier:
    for tier in ladder:
        if tier.id == tier_id:
            return tier
    raise TierNotFound()


async def list_tiers(using_db: BaseDBAsyncClient | None = None) -> list[Tier]:
    """The ladder, lowest level first."""
    return await Tier.all().using_db(using_db).order_by("level")


async def member_counts() -> dict[int, int]:
    """How many members hold each tier."""
    rows = await (
        Member.filter(tier_id__isnull=False)
        .annotate(n=Count("id"))
        .group_by("tier_id")
        .values("tier_id", "n")
    )
    return {row["tier_id"]: row["n"] for row in rows}


async def get_tier(tier_id: int) -> Tier:
    """One tier; 404 `tier_not_found`."""
    tier = await Tier.get_or_none(id=tier_id)
    if tier is None:
        raise TierNotFound()
    return tier


def _rung_from(values: Mapping[str, Any], base: Rung | None = None) -> Rung:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown tier fields: {sorted(unknown)}.", code="invalid_fields")
    if base is None:
        defaults = {"color": "#6B7280", "benefits": [], "upgrade_gift_points": 0}
        missing = {"name", "level", "growth_threshold"} - set(values)
        if missing:
            field = sorted(missing)[0]
            raise ValidationFailed(f"{field} is required.", code=f"invalid_{field}")
        merged = {
            "retention_threshold": 0,
            "multiplier_percent": 100,
            **defaults,
            **values,
        }
        return Rung(**merged)
    return replace(base, **values)


async def check_change(values: Mapping[str, Any], tier_id: int | None = None) -> None:
    """Raise what creating (or, with `tier_id`, updating) a tier would raise; write nothing."""
    ladder = await list_tiers()
    if tier_id is None:
        validate_ladder([*map(Rung.of, ladder), _rung_from(values)])
        return
    after = _rung_from(values, Rung.of(_find(ladder, tier_id)))
    validate_ladder([after if r.id == tier_id else r for r in map(Rung.of, ladder)])


async def create_tier(actor: Operator, values: Mapping[str, Any]) -> Tier:
    """Add a tier to the ladder; the whole ladder must still keep every rule."""
    rung = _rung_from(values)
    async with in_transaction() as conn:
        ladder = await _lock_ladder(conn)
        validate_ladder([*map(Rung.of, ladder), rung])
        normalised = replace(rung, benefits=parse_benefits(rung.benefits))
        tier = await Tier.create(**normalised.values(), using_db=conn)
        await audit.record(
            actor, "tier.create", "tier", tier.id, after=public_tier(tier), using_db=conn
        )
    return tier


async def update_tier(actor: Operator, tier_id: int, values: Mapping[str, Any]) -> Tier:
    """Change some fields of a tier; members' cards are redrawn if its name or colour changed."""
    async with in_transaction() as conn:
        ladder = await _lock_ladder(conn)
        tier = _find(ladder, tier_id)
        before = Rung.of(tier)
        after = _rung_from(values, before)
        validate_ladder([after if r.id == tier_id else r for r in map(Rung.of, ladder)])
        after = replace(after, benefits=parse_benefits(after.benefits))
        changed = {k: v for k, v in after.values().items() if getattr(before, k) != v}
        if changed:
            tier.update_from_dict(changed)
            await tier.save(using_db=conn, update_fields=[*changed, "updated_at"])
            if {"name", "color"} & set(changed):
                await (
                    Member.filter(tier_id=tier_id)
                    .using_db(conn)
                    .update(card_version=F("card_version") + 1)
                )
            await audit.record(
                actor,
                "tier.update",
                "tier",
                tier_id,
                before={"id": tier_id, **before.values()},
                after=public_tier(tier),
                using_db=conn,
            )
    return tier


async def delete_tier(actor: Operator, tier_id: int) -> None:
    """Remove a tier nobody holds; 409 `tier_in_use` otherwise."""
    in_use = Conflict("Members hold this tier; move them first.", code="tier_in_use")
    try:
        async with in_transaction() as conn:
            ladder = await _lock_ladder(conn)
            tier = _find(ladder, tier_id)
            if await Member.filter(tier_id=tier_id).using_db(conn).exists():
                raise in_use
            validate_ladder([Rung.of(t) for t in ladder if t.id != tier_id])
            await tier.delete(using_db=conn)
            await audit.record(
                actor, "tier.delete", "tier", tier_id, before=public_tier(tier), using_db=conn
            )
    except IntegrityError:
        # A member reached the tier between the check and the delete (foreign key RESTRICT).
        raise in_use from None
