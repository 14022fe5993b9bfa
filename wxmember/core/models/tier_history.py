"""The history of the tier ladder: members' moves between tiers and the evaluation runs."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator
from wxmember.core.models.tiers import Tier


class TierChangeReason(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    OPERATOR = "operator"
    IMPORT = "import"


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
        indexes = (("member_id", "created_at"), ("created_at",))


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
