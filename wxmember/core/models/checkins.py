"""Daily check-in (签到): one row per member per local day, and the versioned check-in rules."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class Checkin(Model):
    """A member checked in on a local day (or made it up later: `made_up`).

    `streak` is the length of the run of consecutive days ending on this day. A make-up that
    fills a gap raises the streak of the rows that follow it, so the stored value stays what
    the calendar shows. `points` and `bonus_points` are what the day earned when it was recorded.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="checkins", on_delete=fields.RESTRICT
    )
    member_id: int
    day = fields.DateField()
    streak = fields.IntField()
    points = fields.IntField(default=0)
    bonus_points = fields.IntField(default=0)
    made_up = fields.BooleanField(default=False)
    price_points = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "checkins"
        unique_together = (("member_id", "day"),)
        indexes = (("created_at",),)  # the dashboard's check-ins per day


class CheckinRule(Model):
    """One version of the check-in rules, in force from `effective_from` (a local date) on.

    The rules for a day are the version with the latest `effective_from` not after that day.
    `bonuses` is a list of `{"day": n, "points": p}`: on day n of each `cycle_days`-day cycle
    of a streak, p points on top of `base_points`.
    """

    id = fields.IntField(primary_key=True)
    effective_from = fields.DateField(unique=True)
    enabled = fields.BooleanField(default=True)
    base_points = fields.IntField()
    cycle_days = fields.IntField()
    bonuses: list[dict[str, int]] = fields.JSONField(default=list)
    makeup_per_month = fields.IntField(default=0)
    makeup_price_points = fields.IntField(default=0)
    adds_growth = fields.BooleanField(default=True)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="checkin_rules", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "checkin_rules"
