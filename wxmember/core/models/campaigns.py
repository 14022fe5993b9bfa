"""Campaigns (营销活动): an offer to the members of a saved segment, with a holdout group.

A campaign is drafted, then launched (now or at `start_at`). When it starts, its segment's
members are recorded once, each in a `campaign_deliveries` row: the segment is frozen, later
changes to the members or the filter do not change who the campaign reaches. A stable random
share of them (`holdout_percent`) is held out: recorded, never contacted, the baseline its
results are compared with.

The delivery row is claimed before anything is done, like a reminder's: its coupon and points
are given under idempotency keys of the campaign and member, and its message moves
claimed -> sending by a conditional update before WeChat is called, so each member is
contacted at most once whatever crashes or however many schedulers run.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator
from wxmember.core.models.reminders import Channel, DeliveryState
from wxmember.core.models.saved_segments import SavedSegment


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


OPEN_STATES = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)


class Campaign(Model):
    """What a campaign gives and says, to whom and from when, with its progress and counts.

    `criteria` is the segment's filter copied at launch. `frozen_after` is the highest member
    id recorded so far while the members are being recorded (resumable), and `frozen_at` the
    moment the recording ended. `salt` makes the holdout draw the campaign's own.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40)
    description = fields.CharField(max_length=200, default="")
    segment: fields.ForeignKeyNullableRelation[SavedSegment] = fields.ForeignKeyField(
        "models.SavedSegment", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    segment_id: int | None
    segment_name = fields.CharField(max_length=40, default="")
    criteria: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    state = fields.CharEnumField(CampaignState, max_length=16, default=CampaignState.DRAFT)
    coupon_template_id = fields.IntField(null=True)
    points = fields.IntField(null=True)
    channel = fields.CharEnumField(Channel, max_length=24, null=True)
    template_id = fields.CharField(max_length=64, null=True)
    mapping: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    page = fields.CharField(max_length=200, null=True)
    holdout_percent = fields.SmallIntField(default=10)
    salt = fields.CharField(max_length=32)
    start_at = fields.DatetimeField(null=True)
    launched_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    frozen_after = fields.BigIntField(default=0)
    frozen_at = fields.DatetimeField(null=True)
    recipients = fields.IntField(default=0)
    held_out = fields.IntField(default=0)
    finished_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=1)
    created_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "campaigns"
        indexes = (("state", "start_at"),)


class CampaignDelivery(Model):
    """One member of a launched campaign, from claim to outcome.

    The states and the message fields are a reminder delivery's (handlers/messaging/ sends
    both). A held-out member's row is settled at once as skipped `holdout`. `coupon_id` and
    `points_entry_id` record what was given; `gift_error` why a gift was refused (sold out).
    """

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="deliveries", on_delete=fields.RESTRICT
    )
    campaign_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="campaign_deliveries", on_delete=fields.RESTRICT
    )
    member_id: int
    holdout = fields.BooleanField(default=False)
    channel = fields.CharEnumField(Channel, max_length=24, null=True)
    template_id = fields.CharField(max_length=64, null=True)
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
    msgid = fields.CharField(max_length=32, null=True)
    coupon_id = fields.BigIntField(null=True)
    points_entry_id = fields.BigIntField(null=True)
    gift_error = fields.CharField(max_length=48, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "campaign_deliveries"
        unique_together = (("campaign_id", "member_id"),)
        indexes = (("campaign_id", "state", "next_attempt_at"), ("state", "sending_at"))
