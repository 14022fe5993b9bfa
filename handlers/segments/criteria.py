"""The filter of a saved segment (会员分群): which card holders it selects, validated strictly.

Every criterion is optional and those given must all hold (AND); a filter with none selects
every live card holder. Lists mean "any of" (a tier among `tier_ids`, a birthday month among
`birth_months`, a purchase at one of `stores`), except the three tag lists: `tags_any` (at
least one of them), `tags_all` (every one of them) and `tags_none` (none of them).

Dates are local days in the brand's time zone and exclusive at both ends: `..._after` a day
means from the next local midnight on, `..._before` a day means before that day's midnight.

Purchases are counted for the member's whole history, net of refunds (a purchase refunded in
full does not count at all), as the till records them now: see handlers/segments/filters.py.
RFM criteria read the member's row of the latest RFM run (`member_rfm`); a member not scored
yet matches none of them.

Unknown keys are refused, ranges need `min <= max` and at least one end, lists at least one
value. That tiers and tags exist is checked against the database by `check_exists`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from handlers.segments.rules import Segment
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import MAX_ID, Body, CleanText, Id, IsoDate
from wxmember.core.models.tags import Tag
from wxmember.core.models.tiers import Tier

MAX_FEN = 10**13  # a hundred billion yuan: beyond any member's purchases
MAX_LIST = 50


def _unique_sorted(values: list[Any]) -> list[Any]:
    return sorted(set(values))


Ids = Annotated[list[Id], Field(min_length=1, max_length=MAX_LIST), AfterValidator(_unique_sorted)]
Month = Annotated[int, Field(strict=True, ge=1, le=12)]
Score = Annotated[int, Field(strict=True, ge=1, le=5)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN)]
Points = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
Store = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
]
TemplateId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
]


class _Range(Body):
    """Both ends inclusive; at least one given, `min <= max` (each range bounds its own)."""

    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        low, high = self.min, self.max
        if low is None and high is None:
            raise ValueError("give min, max or both")
        if low is not None and high is not None and low > high:
            raise ValueError("min must not be above max")
        return self


class ScoreRange(_Range):
    min: Score | None = None
    max: Score | None = None


class CountRange(_Range):
    min: Count | None = None
    max: Count | None = None


class FenRange(_Range):
    min: Fen | None = None
    max: Fen | None = None


class PointsRange(_Range):
    min: Points | None = None
    max: Points | None = None


class Criteria(Body):
    """A saved segment's filter (module docstring): every criterion given must hold."""

    tier_ids: Ids | None = None
    rfm_segments: (
        Annotated[list[Segment], Field(min_length=1, max_length=10), AfterValidator(_unique_sorted)]
        | None
    ) = None
    r_score: ScoreRange | None = None
    f_score: ScoreRange | None = None
    m_score: ScoreRange | None = None
    last_purchase_after: IsoDate | None = None
    last_purchase_before: IsoDate | None = None
    purchase_count: CountRange | None = None
    purchase_amount_fen: FenRange | None = None
    points_balance: PointsRange | None = None
    birth_months: (
        Annotated[list[Month], Field(min_length=1, max_length=12), AfterValidator(_unique_sorted)]
        | None
    ) = None
    card_opened_after: IsoDate | None = None
    card_opened_before: IsoDate | None = None
    stores: (
        Annotated[list[Store], Field(min_length=1, max_length=20), AfterValidator(_unique_sorted)]
        | None
    ) = None
    follows_official_account: Annotated[bool, Field(strict=True)] | None = None
    subscribe_template_id: TemplateId | None = None
    tags_any: Ids | None = None
    tags_all: Ids | None = None
    tags_none: Ids | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Criteria:
        for name in ("last_purchase", "card_opened"):
            after = getattr(self, f"{name}_after")
            before = getattr(self, f"{name}_before")
            if after is not None and before is not None and after >= before:
                raise ValueError(f"{name}_after must be a day before {name}_before")
        both = set(self.tags_all or ()) & set(self.tags_none or ()) | (
            set(self.tags_any or ()) & set(self.tags_none or ())
        )
        if both:
            raise ValueError("a tag cannot be both required and excluded")
        return self

    def stored(self) -> dict[str, Any]:
        """The filter as kept in the database and shown: only the criteria given."""
        return self.model_dump(mode="json", exclude_none=True)


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"filter.{field}: {message}", code="invalid_filter", details={"field": f"filter.{field}"}
    )


async def check_exists(criteria: Criteria) -> None:
    """400 `invalid_filter` when the filter names a tier or a tag that does not exist."""
    if criteria.tier_ids:
        found = set(await Tier.filter(id__in=criteria.tier_ids).values_list("id", flat=True))
        missing = [tier for tier in criteria.tier_ids if tier not in found]
        if missing:
            raise _refuse("tier_ids", f"no tier {missing[0]}")
    named = {name: getattr(criteria, name) or [] for name in ("tags_any", "tags_all", "tags_none")}
    wanted = {tag for tags in named.values() for tag in tags}
    if wanted:
        found = set(await Tag.filter(id__in=sorted(wanted)).values_list("id", flat=True))
        for name, tags in named.items():
            missing = [tag for tag in tags if tag not in found]
            if missing:
                raise _refuse(name, f"no tag {missing[0]}")
