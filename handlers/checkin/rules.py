"""Check-in rules: versions that take effect from the next local day, and the one in force.

Operators replace the whole rule set; the new version is stored with `effective_from` = the
brand's tomorrow, so today's check-ins all follow the rules members saw in the morning. A
second change on the same day replaces the pending version. Until an operator saves rules,
`DEFAULT_RULES` apply.

Check-ins read the rules of a day through `rules_in_force`, kept between requests under
everyone's change mark (`wxmember.core.member_cache`): saving a version records a change that
concerns everyone, so every process reads the rules again on its next check-in.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers import audit
from wxmember.core.context import Services
from wxmember.core.inputs import Body
from wxmember.core.localtime import local_today
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models import Operator
from wxmember.core.models.checkins import CheckinRule

MAX_POINTS = 100_000


class StreakBonus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    day: int = Field(ge=1, le=31)
    points: int = Field(ge=1, le=MAX_POINTS)


class CheckinRules(Body):
    """A full rule set, as operators edit it and as check-in applies it."""

    model_config = ConfigDict(frozen=True)
    enabled: bool = True
    base_points: int = Field(ge=0, le=MAX_POINTS)
    cycle_days: int = Field(ge=1, le=31)
    bonuses: tuple[StreakBonus, ...] = Field(default=(), max_length=31)
    makeup_per_month: int = Field(0, ge=0, le=31)
    makeup_price_points: int = Field(0, ge=0, le=MAX_POINTS)
    # Whether a check-in also adds growth (the amount is config `tiers.checkin_growth`).
    adds_growth: bool = True

    @field_validator("bonuses")
    @classmethod
    def _bonus_days_fit_the_cycle(
        cls, bonuses: tuple[StreakBonus, ...], info: ValidationInfo
    ) -> tuple[StreakBonus, ...]:
        days = [bonus.day for bonus in bonuses]
        if len(set(days)) != len(days):
            raise ValueError("each bonus day may appear once")
        if any(day > info.data.get("cycle_days", 31) for day in days):
            raise ValueError("a bonus day lies beyond the cycle")
        return bonuses

    def cycle_day(self, streak: int) -> int:
        """Where a streak of this length stands in the cycle (1..cycle_days)."""
        return (streak - 1) % self.cycle_days + 1

    def bonus_for(self, streak: int) -> int:
        day = self.cycle_day(streak)
        return next((bonus.points for bonus in self.bonuses if bonus.day == day), 0)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


DEFAULT_RULES = CheckinRules(
    base_points=5,
    cycle_days=7,
    bonuses=(StreakBonus(day=3, points=5), StreakBonus(day=7, points=20)),
    makeup_per_month=2,
    makeup_price_points=0,
    adds_growth=True,
)


def _from_row(row: CheckinRule) -> CheckinRules:
    return CheckinRules(
        enabled=row.enabled,
        base_points=row.base_points,
        cycle_days=row.cycle_days,
        bonuses=tuple(StreakBonus(**bonus) for bonus in row.bonuses),
        makeup_per_month=row.makeup_per_month,
        makeup_price_points=row.makeup_price_points,
        adds_growth=row.adds_growth,
    )


async def _version_for(day: date, using_db: BaseDBAsyncClient | None) -> CheckinRule | None:
    return await (
        CheckinRule.filter(effective_from__lte=day)
        .order_by("-effective_from")
        .using_db(using_db)
        .first()
    )


async def rules_for(day: date, using_db: BaseDBAsyncClient | None = None) -> CheckinRules:
    """The rules in force on a local day."""
    row = await _version_for(day, using_db)
    return _from_row(row) if row is not None else DEFAULT_RULES


async def rules_in_force(services: Services, day: date) -> CheckinRules:
    """The rules of a local day, as `rules_for`, kept until a version is saved."""
    return await services.members.shared(f"checkin-rules:{day.isoformat()}", lambda: rules_for(day))


async def overview(services: Services) -> dict[str, Any]:
    """The rules in force today and, if a change is pending, those that apply from tomorrow."""
    today = local_today(services)
    tomorrow = today + timedelta(days=1)
    current = await _version_for(today, None)
    pending = await CheckinRule.get_or_none(effective_from=tomorrow)
    return {
        "current": _described(current, DEFAULT_RULES if current is None else None),
        "next": _described(pending) if pending is not None else None,
    }


def _described(row: CheckinRule | None, default: CheckinRules | None = None) -> dict[str, Any]:
    rules = _from_row(row) if row is not None else default or DEFAULT_RULES
    return rules.public() | {
        "effective_from": row.effective_from.isoformat() if row is not None else None,
        "is_default": row is None,
    }


async def replace_rules(services: Services, actor: Operator, rules: CheckinRules) -> dict[str, Any]:
    """Store a new rule version effective from the brand's tomorrow; audited."""
    tomorrow = local_today(services) + timedelta(days=1)
    values = rules.model_dump(mode="json") | {"operator_id": actor.id}
    for attempt in range(2):
        try:
            async with in_transaction() as conn:
                before = await rules_for(tomorrow, conn)
                changed = await (
                    CheckinRule.filter(effective_from=tomorrow).using_db(conn).update(**values)
                )
                if not changed:
                    await CheckinRule.create(effective_from=tomorrow, **values, using_db=conn)
                await audit.record(
                    actor,
                    "checkin_rules.replace",
                    "checkin_rules",
                    tomorrow.isoformat(),
                    before=before.public(),
                    after=rules.public() | {"effective_from": tomorrow.isoformat()},
                    using_db=conn,
                )
            changed_everyone()
            break
        except IntegrityError:
            # Another operator created tomorrow's version at the same moment: update it instead.
            if attempt:
                raise
    return await overview(services)
