"""One-time subscribe-message grants (一次性订阅) of mini-program members, per template.

Every "accept" a member gives in `wx.requestSubscribeMessage` allows one message of that
template; `remaining` counts them. It only moves through conditional updates in
`handlers.subscriptions.grants`, so it never goes below zero.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member


class SubscribeGrant(Model):
    """How many messages of `template_id` the member still allows."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="subscribe_grants", on_delete=fields.CASCADE
    )
    member_id: int
    template_id = fields.CharField(max_length=64)
    remaining = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscribe_grants"
        unique_together = (("member_id", "template_id"),)
