"""The growth ledger (成长值): every change is a row; per-member monthly totals beside it.

Growth lands in the month (brand time zone) it was earned: its `period`, "YYYY-MM". An
evaluation period (a calendar year, or a rolling 12 months) is the sum of its twelve months, so
both period modes read the same rows and an operator can switch mode without losing history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from wxmember.core.models.members import Member


class GrowthEntry(Model):
    """One change of a member's growth: positive for purchases and activity, negative for refunds.

    `period` is the month (brand time zone) the change counts in.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="growth_entries", on_delete=fields.RESTRICT
    )
    amount = fields.IntField()
    reason = fields.CharField(max_length=32)
    reference = fields.CharField(max_length=64, null=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    period = fields.CharField(max_length=7)
    created_at = fields.DatetimeField()

    member_id: int

    class Meta:
        table = "growth_entries"
        indexes = (("member_id", "id"),)


class MemberPeriodGrowth(Model):
    """A member's net growth in one month — changed only by atomic increments."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="period_growth", on_delete=fields.CASCADE
    )
    period = fields.CharField(max_length=7)
    total = fields.IntField(default=0)

    member_id: int

    class Meta:
        table = "member_period_growth"
        unique_together = (("member_id", "period"),)
