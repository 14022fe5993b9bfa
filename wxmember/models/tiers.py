"""The tier ladder (会员等级)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Tier(Model):
    """A rung of the ladder. Level orders tiers; the entry tier has growth threshold 0."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32)
    level = fields.IntField(unique=True)
    color = fields.CharField(max_length=7, default="#6B7280")
    growth_threshold = fields.IntField(default=0)
    retention_threshold = fields.IntField(default=0)
    multiplier_percent = fields.IntField(default=100)
    benefits = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tiers"
        ordering = ["level"]
