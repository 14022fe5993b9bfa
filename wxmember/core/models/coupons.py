"""Coupons (优惠券): templates, the coupons members hold, and per-member claim counters."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class CouponKind(StrEnum):
    CASH = "cash"
    DISCOUNT = "discount"
    GIFT = "gift"


class Obtain(StrEnum):
    """How members come by a template's coupons."""

    CLAIMABLE = "claimable"
    ISSUED = "issued"


class CouponStatus(StrEnum):
    UNUSED = "unused"
    USED = "used"
    EXPIRED = "expired"


class CouponSource(StrEnum):
    CLAIM = "claim"
    ISSUE = "issue"


class CouponTemplate(Model):
    """What a coupon is worth, how many exist, who may claim it and for how long it is valid.

    `value` is fen off for cash coupons and percent off (1..99) for discount coupons — gift
    coupons have value 0. `remaining` is what is left of `total_stock` (both null: unlimited)
    and `claimed` counts every coupon handed out, claimed or issued. Validity is either fixed
    (`valid_from`..`valid_until`) or `valid_days` local days from the claim day.
    """

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=20)
    kind = fields.CharEnumField(CouponKind, max_length=16)
    value = fields.IntField(default=0)
    threshold_fen = fields.IntField(default=0)
    max_discount_fen = fields.IntField(null=True)
    total_stock = fields.IntField(null=True)
    remaining = fields.IntField(null=True)
    claimed = fields.IntField(default=0)
    per_member_limit = fields.IntField(default=1)
    claim_starts_at = fields.DatetimeField(null=True)
    claim_ends_at = fields.DatetimeField(null=True)
    valid_from = fields.DatetimeField(null=True)
    valid_until = fields.DatetimeField(null=True)
    valid_days = fields.IntField(null=True)
    eligible_tiers: fields.JSONField[list[int]] = fields.JSONField(default=list)
    obtain = fields.CharEnumField(Obtain, max_length=16, default=Obtain.CLAIMABLE)
    terms = fields.TextField(default="")
    stopped = fields.BooleanField(default=False)
    stopped_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coupon_templates"
        indexes = (("obtain", "stopped"),)


class CouponClaimCounter(Model):
    """How many coupons of a template a member has claimed: the judge of the per-member limit."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="coupon_claim_counters", on_delete=fields.CASCADE
    )
    template: fields.ForeignKeyRelation[CouponTemplate] = fields.ForeignKeyField(
        "models.CouponTemplate", related_name="claim_counters", on_delete=fields.CASCADE
    )
    count = fields.IntField(default=0)

    class Meta:
        table = "coupon_claim_counters"
        unique_together = (("member_id", "template_id"),)


class Coupon(Model):
    """One coupon in a member's hands, with its cashier code and, once used, the order.

    `status` is what was last written — an unused coupon past `valid_until` is expired whether
    or not the expiry job has marked it yet. `issue_key` makes issuing idempotent.
    """

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    template: fields.ForeignKeyRelation[CouponTemplate] = fields.ForeignKeyField(
        "models.CouponTemplate", related_name="coupons", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="coupons", on_delete=fields.RESTRICT
    )
    member_id: int
    template_id: int
    source = fields.CharEnumField(CouponSource, max_length=16)
    reason = fields.CharField(max_length=64, default="")
    issue_key = fields.CharField(max_length=160, unique=True, null=True)
    status = fields.CharEnumField(CouponStatus, max_length=16, default=CouponStatus.UNUSED)
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    status_changed_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    order_no = fields.CharField(max_length=64, null=True)
    order_amount_fen = fields.IntField(null=True)
    discount_fen = fields.IntField(null=True)
    # the code of the store it was used at
    store = fields.CharField(max_length=64, null=True)
    redeemed_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="redeemed_coupons", null=True, on_delete=fields.SET_NULL
    )
    redeemed_by_id: int | None

    class Meta:
        table = "coupons"
        # created_at, used_at: the dashboard's coupons handed out and redeemed per day.
        indexes = (
            ("member_id", "status", "valid_until"),
            ("status", "valid_until"),
            ("created_at",),
            ("used_at",),
            ("store", "used_at"),
        )
