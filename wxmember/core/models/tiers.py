"""The tier ladder (会员等级); members' moves between tiers are in `tier_history`."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Tier(Model):
    """A rung of the ladder. Level orders tiers — the entry tier has level 0 and growth 0.

    `benefits` is a list of `{"title", "kind", ...params}` (kinds in handlers/tiers/ladder.py) —
    `upgrade_gift_points` are granted once per member the first time they reach the tier.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32)
    level = fields.IntField(unique=True)
    color = fields.CharField(max_length=7, default="#6B7280")
    growth_threshold = fields.IntField(default=0)
    retention_threshold = fields.IntField(default=0)
    multiplier_percent = fields.IntField(default=100)
    benefits: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    upgrade_gift_points = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tiers"
        ordering = ["level"]
