"""Official Account followers (公众号粉丝) and their link to members.

A follower is known by the Official Account openid. `Member.official_openid` is the link itself
(unique, so one follower belongs to at most one member); `Follower.member` mirrors it for the
follower's side and is written in the same transaction whenever the bot links the two.
Unfollowing keeps the link: the member stays a member and is recognised again on return.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member


class Follower(Model):
    """Someone who follows (or followed) the Official Account."""

    id = fields.IntField(primary_key=True)
    openid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="followers", null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None
    subscribed = fields.BooleanField(default=False)
    subscribed_at = fields.DatetimeField(null=True)
    unsubscribed_at = fields.DatetimeField(null=True)
    # the scene of the last parametric QR code (e.g. a store's) followed or scanned
    last_scene = fields.CharField(max_length=64, null=True, db_index=True)
    last_scene_at = fields.DatetimeField(null=True)
    unionid_checked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "bot_followers"
        # The dashboard counts followers at the end of a day from the first two, and a saved
        # segment's "follows the Official Account" looks a member's followers up by the last.
        indexes = (("subscribed", "subscribed_at"), ("unsubscribed_at",), ("member_id",))
