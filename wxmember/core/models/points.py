"""The points ledger (积分): immutable entries, the lots earned points form, and what spends took.

Invariants, kept by `handlers.points.ledger` inside one transaction per change:

- `member.points_balance == sum(entry.amount) == sum(lot.remaining)` over the member's rows;
- `member.points_debt == sum(entry.debt_change)`: points a refund could not take back because the
  balance was too low; the next credits settle it before anything reaches the balance, so a
  member never has both a balance and a debt (`balance > 0` implies `debt == 0`).

A lot that never expires carries `NEVER_EXPIRES` rather than NULL, so that ordering by
`expires_at` puts it last on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator

NEVER_EXPIRES = datetime(9999, 12, 31, tzinfo=UTC)


class EntryKind(StrEnum):
    EARN = "earn"
    SPEND = "spend"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REFUND = "refund"


class PointsEntry(Model):
    """One change of a member's points — never updated or deleted once written.

    `amount` is the change of the balance (signed). `debt_change` is the change of the debt:
    negative when a credit settled debt (the credit's gross value is `amount - debt_change`),
    positive when a take-back found too few points.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="points_entries", on_delete=fields.RESTRICT
    )
    member_id: int
    kind = fields.CharEnumField(EntryKind, max_length=8)
    amount = fields.IntField()
    balance_after = fields.IntField()
    debt_change = fields.IntField(default=0)
    debt_after = fields.IntField(default=0)
    reason = fields.CharField(max_length=200)
    reference = fields.CharField(max_length=64, null=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    refund_of: fields.OneToOneNullableRelation[PointsEntry] = fields.OneToOneField(
        "models.PointsEntry", related_name="refunded_by", null=True, on_delete=fields.RESTRICT
    )
    refund_of_id: int | None
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="points_entries", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_entries"
        # created_at: the dashboard's points issued, spent and expired per day.
        indexes = (("member_id", "id"), ("created_at",))

    @property
    def gross_amount(self) -> int:
        """What the operation asked for, before debt settlement or shortfall."""
        return self.amount - self.debt_change


class PointsLot(Model):
    """Points earned together, expiring together — `remaining` falls as they are spent."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="points_lots", on_delete=fields.RESTRICT
    )
    member_id: int
    entry: fields.ForeignKeyRelation[PointsEntry] = fields.ForeignKeyField(
        "models.PointsEntry", related_name="lots", on_delete=fields.RESTRICT, db_index=True
    )
    entry_id: int
    amount = fields.IntField()
    remaining = fields.IntField()
    expires_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_lots"
        # Also `points_lots_due` (expires_at, id) WHERE remaining > 0, for the expiry job:
        # a partial index, which the models cannot state (migration 0014_points_expiry).
        indexes = (("member_id", "expires_at"),)


class PointsAllocation(Model):
    """How much a debit (spend, expiry, take-back, negative adjustment) took from one lot."""

    id = fields.BigIntField(primary_key=True)
    entry: fields.ForeignKeyRelation[PointsEntry] = fields.ForeignKeyField(
        "models.PointsEntry", related_name="allocations", on_delete=fields.RESTRICT, db_index=True
    )
    entry_id: int
    lot: fields.ForeignKeyRelation[PointsLot] = fields.ForeignKeyField(
        "models.PointsLot", related_name="allocations", on_delete=fields.RESTRICT
    )
    lot_id: int
    amount = fields.IntField()

    class Meta:
        table = "points_allocations"
