"""The points mall (积分商城): items, code pools, redemption orders, per-member counters."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member


class ItemKind(StrEnum):
    COUPON = "coupon"
    PHYSICAL = "physical"
    VIRTUAL = "virtual"


class LimitPeriod(StrEnum):
    LIFETIME = "lifetime"
    MONTH = "month"


class OrderState(StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MallItem(Model):
    """Something members buy with points.

    `stock` is what is left to redeem — for virtual items it equals the unassigned codes of the
    pool and only grows by uploading codes. `sold` counts units redeemed and not cancelled.
    """

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=40)
    description = fields.TextField(default="")
    images: fields.JSONField[list[str]] = fields.JSONField(default=list)
    kind = fields.CharEnumField(ItemKind, max_length=16)
    coupon_template_id = fields.IntField(null=True)
    points_price = fields.IntField()
    stock = fields.IntField(default=0)
    sold = fields.IntField(default=0)
    limit_period = fields.CharEnumField(LimitPeriod, max_length=16, default=LimitPeriod.LIFETIME)
    limit_count = fields.IntField(null=True)
    tier_levels: fields.JSONField[list[int]] = fields.JSONField(default=list)
    sale_starts_at = fields.DatetimeField(null=True)
    sale_ends_at = fields.DatetimeField(null=True)
    display_order = fields.IntField(default=0)
    active = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "mall_items"
        indexes = (("active", "display_order", "id"),)


class MallOrder(Model):
    """One redemption: what was bought, at which unit price, and how it is being fulfilled.

    `(member, idempotency_key)` is unique: a retried request finds the first order instead of
    redeeming twice. `request_hash` tells a retry from a different request under the same key.
    `fulfilment` keeps what was handed over (coupon ids and codes) as it was at redemption.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="mall_orders", on_delete=fields.RESTRICT
    )
    member_id: int
    item: fields.ForeignKeyRelation[MallItem] = fields.ForeignKeyField(
        "models.MallItem", related_name="orders", on_delete=fields.RESTRICT
    )
    item_id: int
    idempotency_key = fields.CharField(max_length=64)
    request_hash = fields.CharField(max_length=64)
    kind = fields.CharEnumField(ItemKind, max_length=16)
    item_title = fields.CharField(max_length=40)
    quantity = fields.SmallIntField()
    unit_price = fields.IntField()
    points_total = fields.IntField()
    limit_month = fields.CharField(max_length=7)
    state = fields.CharEnumField(OrderState, max_length=16, db_index=True)
    fulfilment: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    recipient = fields.CharField(max_length=20, null=True)
    phone_enc = fields.CharField(max_length=255, null=True)
    region = fields.CharField(max_length=50, null=True)
    address_detail = fields.CharField(max_length=120, null=True)
    carrier = fields.CharField(max_length=32, null=True)
    tracking_no = fields.CharField(max_length=40, null=True)
    cancel_reason = fields.CharField(max_length=200, null=True)
    cancelled_by = fields.CharField(max_length=64, null=True)

    created_at = fields.DatetimeField(auto_now_add=True)
    shipped_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mall_orders"
        unique_together = (("member_id", "idempotency_key"),)
        indexes = (("member_id", "id"), ("state", "id"), ("created_at",))


class MallCode(Model):
    """One code of a virtual item's pool — `order` is set once, when a redemption takes it."""

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[MallItem] = fields.ForeignKeyField(
        "models.MallItem", related_name="codes", on_delete=fields.RESTRICT
    )
    item_id: int
    code = fields.CharField(max_length=64)
    order: fields.ForeignKeyNullableRelation[MallOrder] = fields.ForeignKeyField(
        "models.MallOrder", related_name="codes", null=True, on_delete=fields.RESTRICT
    )
    order_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    assigned_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mall_codes"
        unique_together = (("item_id", "code"),)
        indexes = (("item_id", "order_id"),)


class MallRedemptionCount(Model):
    """Units of an item a member holds in a period: `lifetime`, or a local month `YYYY-MM`.

    Both rows are kept whatever the item's current limit, so a limit set or changed later still
    counts earlier redemptions. The limit is enforced by a conditional increment of this row.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="mall_counts", on_delete=fields.RESTRICT
    )
    member_id: int
    item: fields.ForeignKeyRelation[MallItem] = fields.ForeignKeyField(
        "models.MallItem", related_name="member_counts", on_delete=fields.RESTRICT
    )
    item_id: int
    period = fields.CharField(max_length=8)
    count = fields.IntField(default=0)

    class Meta:
        table = "mall_redemption_counts"
        unique_together = (("member_id", "item_id", "period"),)
