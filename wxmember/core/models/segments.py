"""RFM: each card holder's recency, frequency and monetary value, their scores and segment.

A daily run (handlers/segments/run.py) writes one `MemberRfm` row per card holder, set-based,
a batch of members at a time. `RfmRun` makes a day's run idempotent and resumable. `RfmMonth`
keeps the monthly snapshot: how many members moved from each segment to each segment between
two snapshots, which also gives each month's segment sizes. `RfmSettings` holds the scoring
the operators chose (quintiles, or their own thresholds).

Segment codes are stable English words (`important_value`, ..., `new`, `never_purchased`),
labelled in Chinese for display by handlers/segments/rules.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class MemberRfm(Model):
    """A card holder's RFM as of the run of `computed_on` (purchases before that local day).

    Recency is in days since the last purchase (null: never purchased), frequency and monetary
    value (fen, net of refunds) cover the configured window. `snapshot_*` hold the segment at
    the latest monthly snapshot and `previous_segment` the one at the snapshot before it.
    """

    id = fields.BigIntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="rfm", on_delete=fields.CASCADE
    )
    member_id: int
    recency_days = fields.IntField(null=True)
    frequency = fields.IntField(default=0)
    monetary_fen = fields.BigIntField(default=0)
    r_score = fields.SmallIntField(null=True)
    f_score = fields.SmallIntField(null=True)
    m_score = fields.SmallIntField(null=True)
    segment = fields.CharField(max_length=24)
    first_purchase_at = fields.DatetimeField(null=True)
    last_purchase_at = fields.DatetimeField(null=True)
    computed_on = fields.DateField()
    snapshot_month = fields.DateField(null=True)
    snapshot_segment = fields.CharField(max_length=24, null=True)
    previous_segment = fields.CharField(max_length=24, null=True)

    class Meta:
        table = "member_rfm"
        # Segment sizes of a run day, and the monthly snapshot's moves.
        indexes = (("computed_on", "segment"), ("snapshot_month", "previous_segment"))


class RfmRunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class RfmRun(Model):
    """The RFM run of one local day under one version of the settings, resumable from `cursor`.

    `cuts` are the score boundaries the run applies, fixed when it starts (quintiles over the
    card holders who purchased, or the operators' thresholds), so that a resumed run scores
    its later batches as its first.
    """

    id = fields.IntField(primary_key=True)
    day = fields.DateField()
    settings_version = fields.IntField(default=0)
    mode = fields.CharField(max_length=16)
    cuts: fields.JSONField[dict[str, list[int]]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(RfmRunStatus, max_length=16, default=RfmRunStatus.RUNNING)
    # The highest member id scored so far; members are taken in id order.
    cursor = fields.BigIntField(default=0)
    scored = fields.IntField(default=0)
    batches = fields.IntField(default=0)
    snapshot_month = fields.DateField(null=True)  # the month whose snapshot this run took
    started_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "rfm_runs"
        unique_together = (("day", "settings_version"),)


class RfmMonth(Model):
    """Members who were in `from_segment` at the snapshot before and in `segment` at this one.

    `from_segment` is empty for members not scored at the previous snapshot (new card holders,
    or the first snapshot). A month's segment sizes are the sums over `from_segment`.
    """

    id = fields.IntField(primary_key=True)
    month = fields.DateField()  # the first day of the month
    from_segment = fields.CharField(max_length=24, default="")
    segment = fields.CharField(max_length=24)
    members = fields.IntField(default=0)
    taken_on = fields.DateField()

    class Meta:
        table = "rfm_months"
        unique_together = (("month", "from_segment", "segment"),)


class RfmSettings(Model):
    """How scores are given: `quintile`, or `thresholds` set by operators (one row).

    Thresholds are four ascending numbers per measure. Recency: score 5 within the first number
    of days, 4 within the second, 3 within the third, 2 within the fourth, else 1. Frequency
    and monetary value (fen): score 2 from the first number, 3 from the second, 4 from the
    third, 5 from the fourth, else 1. Each save raises `version`, so a day can be run again.
    """

    id = fields.IntField(primary_key=True)
    mode = fields.CharField(max_length=16, default="quintile")
    thresholds: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    version = fields.IntField(default=0)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    updated_at = fields.DatetimeField()

    class Meta:
        table = "rfm_settings"
