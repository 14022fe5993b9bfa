"""The tier ladder (会员等级), the history of members' tier changes and the evaluation runs."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from wxmember.core.models.members import Member
    from wxmember.core.models.operators import Operator


class Tier(Model):
    """A rung of the ladder. Level orders tiers — the entry tier has level 0 and growth 0.

    `benefits` is a list of `{"title", "kind", ...params}` (kinds in handlers/tiers/ladder.py) —
    `upgrade_gift_points` are granted once per member the first time they reach the tier.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32)
    level = fields.IntField(unique=True)
    color = fields.CharField(max_length=7, default="#6B7280")
    growth_threshold = fields.IntField(default=0)
    retention_threshold = fields.IntField(default=0)
    multiplier_percent = fields.IntField(default=100)
    benefits: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    upgrade_gift_points = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tiers"
        ordering = ["level"]


class TierChangeReason(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    OPERATOR = "operator"


class TierChange(Model):
    """One move of a member between tiers. Tier names are kept so history survives a deletion."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="tier_changes", on_delete=fields.RESTRICT
    )
    from_tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    to_tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    from_name = fields.CharField(max_length=32, default="")
    to_name = fields.CharField(max_length=32, default="")
    reason = fields.CharEnumField(TierChangeReason, max_length=16)
    # The period growth that decided the change (upgrades and downgrades).
    growth = fields.IntField(null=True)
    # The evaluation period of a downgrade, e.g. "calendar_year:2025-12-31".
    period_key = fields.CharField(max_length=40, null=True)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    note = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField()

    member_id: int
    from_tier_id: int | None
    to_tier_id: int | None
    operator_id: int | None

    class Meta:
        table = "tier_changes"
        indexes = (("member_id", "created_at"),)


class EvaluationStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class EvaluationRun(Model):
    """The retention evaluation of one period: at most one per period, resumable from `cursor`."""

    id = fields.IntField(primary_key=True)
    period_key = fields.CharField(max_length=40, unique=True)
    period_start = fields.DateField()
    period_end = fields.DateField()
    status = fields.CharEnumField(EvaluationStatus, max_length=16, default=EvaluationStatus.RUNNING)
    # The highest member id processed so far; members are taken in id order.
    cursor = fields.BigIntField(default=0)
    checked = fields.IntField(default=0)
    downgraded = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    started_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tier_evaluation_runs"
