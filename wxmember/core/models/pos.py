"""Cashier records: purchases that earned points and growth, and their refunds."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class Purchase(Model):
    """A till receipt credited to a member, once per `order_no` (the POS's own number).

    `points` and `growth` are what the purchase earned (points after the tier multiplier,
    before any debt they settled). The `*_refunded` / `*_taken_back` running totals let
    partial refunds take back exactly what they should, with no rounding drift.
    """

    id = fields.BigIntField(primary_key=True)
    order_no = fields.CharField(max_length=64, unique=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="purchases", on_delete=fields.RESTRICT
    )
    member_id: int
    amount_fen = fields.BigIntField()
    # the code of the store it was bought at (wxmember.core.models.stores)
    store = fields.CharField(max_length=64, null=True)
    multiplier_percent = fields.IntField(default=100)
    points = fields.IntField(default=0)
    growth = fields.IntField(default=0)
    refunded_fen = fields.BigIntField(default=0)
    points_taken_back = fields.IntField(default=0)
    growth_taken_back = fields.IntField(default=0)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="purchases", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "pos_purchases"
        # The last holds everything a saved segment's purchase criteria read, in member order:
        # they aggregate it without touching the table (an index-only scan, no sort).
        indexes = (
            ("member_id", "id"),
            ("created_at",),
            ("member_id", "created_at", "amount_fen", "refunded_fen"),
            ("store", "created_at"),
        )


class PurchaseRefund(Model):
    """A (partial) refund of a purchase, once per (purchase, `refund_no`)."""

    id = fields.BigIntField(primary_key=True)
    purchase: fields.ForeignKeyRelation[Purchase] = fields.ForeignKeyField(
        "models.Purchase", related_name="refunds", on_delete=fields.RESTRICT
    )
    purchase_id: int
    refund_no = fields.CharField(max_length=64)
    amount_fen = fields.BigIntField()
    points_taken_back = fields.IntField(default=0)
    points_shortfall = fields.IntField(default=0)
    growth_taken_back = fields.IntField(default=0)
    store = fields.CharField(max_length=64, null=True)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="purchase_refunds", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "pos_purchase_refunds"
        unique_together = (("purchase_id", "refund_no"),)
        indexes = (("store", "created_at"),)
