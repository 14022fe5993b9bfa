"""Tier benefits paid by the scheduler: one grant row per member, benefit and occasion, and the
monthly runs that pay the monthly coupons.

A grant row is claimed (inserted under the unique key member, kind, occasion) before anything is
paid, so two schedulers or a re-run pay at most once; every payment also carries its own
idempotency key on the points ledger or on coupon issuing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.tiers import Tier


class BenefitKind(StrEnum):
    BIRTHDAY_GIFT = "birthday_gift"
    MONTHLY_COUPONS = "monthly_coupons"


class GrantState(StrEnum):
    CLAIMED = "claimed"
    GRANTED = "granted"
    FAILED = "failed"


class BenefitGrant(Model):
    """One tier benefit paid to one member for one occasion (a birthday year, a local month).

    `occasion` is "2026" for a birthday gift and "2026-05" for a month's coupons. `items` are the
    gifts to pay, fixed at claim time from the tier's benefits. States: claimed (to be paid),
    granted (everything paid) or failed (something could not be paid, never retried). `paid`
    lists the points entries and coupons given, `failures` what was refused and why.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="benefit_grants", on_delete=fields.RESTRICT
    )
    member_id: int
    kind = fields.CharEnumField(BenefitKind, max_length=24)
    occasion = fields.CharField(max_length=16)
    day = fields.DateField()
    tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    tier_id: int | None
    tier_name = fields.CharField(max_length=32, default="")
    items: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    state = fields.CharEnumField(GrantState, max_length=16, default=GrantState.CLAIMED)
    paid: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    failures: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "benefit_grants"
        unique_together = (("member_id", "kind", "occasion"),)
        indexes = (("kind", "occasion", "state"), ("state", "id"))


class BenefitRunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class BenefitRun(Model):
    """The monthly coupons of one local month: one run per month, resumable from `cursor`."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(BenefitKind, max_length=24)
    occasion = fields.CharField(max_length=16)
    status = fields.CharEnumField(BenefitRunStatus, max_length=16, default=BenefitRunStatus.RUNNING)
    # The highest member id paid so far; members are taken in id order.
    cursor = fields.BigIntField(default=0)
    started_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "benefit_runs"
        unique_together = (("kind", "occasion"),)
