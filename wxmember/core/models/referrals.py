"""Referrals (邀请好友): share codes, the referrals recorded at card opening, their rewards.

Each card holder may get one opaque share code (`ReferralCode`, random, reveals nothing about
them). An invitee who opens a card with it is recorded once (`Referral`, unique per invitee).
The rewards the operators configured (`ReferralSettings`, one row) become `ReferralReward`
rows, one per side and kind, paid through the points ledger or coupon issuing under
idempotency keys of the referral, at card opening or at the invitee's first purchase.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class RewardMoment(StrEnum):
    CARD_OPENING = "card_opening"
    FIRST_PURCHASE = "first_purchase"


class ReferralSettings(Model):
    """What a referral gives and when (one row, saved whole by operators and audited).

    Points are whole points (0: none), coupons a template id (null: none). `monthly_limit`
    caps the referrals per referrer per local month that reward the referrer.
    """

    id = fields.IntField(primary_key=True)
    enabled = fields.BooleanField(default=False)
    reward_on = fields.CharEnumField(RewardMoment, max_length=16, default=RewardMoment.CARD_OPENING)
    referrer_points = fields.IntField(default=0)
    referrer_coupon_template_id = fields.IntField(null=True)
    invitee_points = fields.IntField(default=0)
    invitee_coupon_template_id = fields.IntField(null=True)
    monthly_limit = fields.IntField(default=10)
    version = fields.IntField(default=0)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    updated_at = fields.DatetimeField()

    class Meta:
        table = "referral_settings"


class ReferralCode(Model):
    """A member's share code: random, stored, the only thing a share link carries."""

    id = fields.IntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="referral_code", on_delete=fields.CASCADE
    )
    member_id: int
    code = fields.CharField(max_length=16, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referral_codes"


class ReferralStatus(StrEnum):
    PENDING = "pending"  # rewards wait for the invitee's first purchase
    REWARDED = "rewarded"
    VOID = "void"


class Referral(Model):
    """An invitee who opened their card through a referrer's code (once per invitee).

    `referrer_rewarded` is false when the referrer had reached the monthly limit: the
    referral counts, the invitee's rewards stand, the referrer gets nothing for it. `month`
    is the local month it was recorded in (the limit's period).
    """

    id = fields.IntField(primary_key=True)
    referrer: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="referrals_made", on_delete=fields.RESTRICT
    )
    referrer_id: int
    invitee: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="referral", on_delete=fields.RESTRICT
    )
    invitee_id: int
    status = fields.CharEnumField(ReferralStatus, max_length=16)
    reward_on = fields.CharEnumField(RewardMoment, max_length=16)
    referrer_rewarded = fields.BooleanField(default=True)
    month = fields.DateField()
    created_at = fields.DatetimeField()
    rewarded_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    voided_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    voided_by_id: int | None
    void_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "referrals"
        indexes = (("referrer_id", "month"), ("month", "status"))


class RewardState(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the coupon could not be given (sold out, stopped, expired)


class ReferralReward(Model):
    """One reward of a referral: points or a coupon, for the referrer or the invitee.

    Paid at most once: a conditional update from `pending`, and the ledger's or the coupon's
    idempotency key `referral:<id>:<side>:<kind>`.
    """

    id = fields.IntField(primary_key=True)
    referral: fields.ForeignKeyRelation[Referral] = fields.ForeignKeyField(
        "models.Referral", related_name="rewards", on_delete=fields.CASCADE
    )
    referral_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="referral_rewards", on_delete=fields.RESTRICT
    )
    member_id: int
    side = fields.CharField(max_length=8)  # referrer, invitee
    kind = fields.CharField(max_length=8)  # points, coupon
    points = fields.IntField(null=True)
    coupon_template_id = fields.IntField(null=True)
    state = fields.CharEnumField(RewardState, max_length=16)
    points_entry_id = fields.BigIntField(null=True)
    coupon_id = fields.BigIntField(null=True)
    error = fields.CharField(max_length=48, null=True)
    created_at = fields.DatetimeField()
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referral_rewards"
        unique_together = (("referral_id", "side", "kind"),)
        indexes = (("member_id", "id"),)
