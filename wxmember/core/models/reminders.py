"""Reminder rules that operators define, and the delivery of each reminder occasion.

A delivery row is claimed (inserted under the unique key rule, member, occasion) before anything
is sent, so a reminder goes out at most once whatever crashes or however many workers run.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member


class ReminderKind(StrEnum):
    BIRTHDAY = "birthday"
    POINTS_EXPIRING = "points_expiring"
    COUPON_EXPIRING = "coupon_expiring"


class Channel(StrEnum):
    MINIAPP_SUBSCRIBE = "miniapp_subscribe"
    OFFICIAL_TEMPLATE = "official_template"


class DeliveryState(StrEnum):
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


FINAL_STATES = (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED)


class ReminderRule(Model):
    """What to remind of, when (local time of day, days before) and through which channel.

    `mapping` maps template data keys to catalogue fields or fixed text (see
    handlers/reminders/fields.py). A birthday rule may carry a gift - coupon template or points.
    `version` grows with every change. A deleted rule keeps its row for the delivery history.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40)
    kind = fields.CharEnumField(ReminderKind, max_length=24)
    send_time = fields.CharField(max_length=5)
    days_before = fields.SmallIntField(default=0)
    channel = fields.CharEnumField(Channel, max_length=24)
    template_id = fields.CharField(max_length=64)
    mapping: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    page = fields.CharField(max_length=200, null=True)
    gift_coupon_template_id = fields.IntField(null=True)
    gift_points = fields.IntField(null=True)
    enabled = fields.BooleanField(default=True)
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "reminder_rules"


class ReminderDelivery(Model):
    """One reminder of one rule to one member for one occasion, from claim to outcome.

    States: claimed (waiting to be sent, or to be retried at `next_attempt_at`), sending (a
    worker is talking to WeChat since `sending_at`), then sent, skipped or failed with a
    `reason` and the WeChat `errcode`. `payload` is the rendered template data, fixed at claim
    time. `gift_key` is unique: one birthday gift per member and year, whichever rule gives it.
    """

    id = fields.BigIntField(primary_key=True)
    rule: fields.ForeignKeyRelation[ReminderRule] = fields.ForeignKeyField(
        "models.ReminderRule", related_name="deliveries", on_delete=fields.RESTRICT
    )
    rule_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="reminder_deliveries", on_delete=fields.RESTRICT
    )
    member_id: int
    occasion = fields.CharField(max_length=64)
    day = fields.DateField()
    channel = fields.CharEnumField(Channel, max_length=24)
    template_id = fields.CharField(max_length=64)
    page = fields.CharField(max_length=200, null=True)
    payload: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    state = fields.CharEnumField(DeliveryState, max_length=16, default=DeliveryState.CLAIMED)
    reason = fields.CharField(max_length=48, null=True)
    errcode = fields.IntField(null=True)
    attempts = fields.SmallIntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    sending_at = fields.DatetimeField(null=True)
    first_sent_at = fields.DatetimeField(null=True)
    grant_spent = fields.BooleanField(default=False)
    gift_key = fields.CharField(max_length=64, null=True, unique=True)
    gift_state = fields.CharField(max_length=16, null=True)
    gift_ref = fields.CharField(max_length=64, null=True)
    msgid = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "reminder_deliveries"
        unique_together = (("rule_id", "member_id", "occasion"),)
        indexes = (
            ("state", "next_attempt_at"),
            ("state", "sending_at"),
            ("day", "rule_id", "state"),
        )
