"""Saved segments (会员分群): named filters over the card holders, kept by operators.

A saved segment is not a list of members: its filter (validated JSON, the schema in
handlers/segments/criteria.py) is compiled into one SQL statement whenever it is counted
or its members are read, so it always reflects the members as they are now. Not to be
confused with RFM segments (member_rfm.segment), which a saved segment's filter may name.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.operators import Operator


class SavedSegment(Model):
    """A named filter over the card holders, unique by name whatever its case and spacing."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40)
    name_key = fields.CharField(max_length=40, unique=True)
    description = fields.CharField(max_length=200, default="")
    criteria: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    created_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    updated_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_by_id: int | None

    class Meta:
        table = "saved_segments"
