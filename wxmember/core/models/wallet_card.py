"""The brand's member card in WeChat's card wallet (微信会员卡): one definition per brand.

What operators configure (logo, colour, texts, the fields shown) and what WeChat said about
it: the card id it gave at `card/create`, the review state (draft until first sent, submitted
while WeChat reviews it, approved or rejected with WeChat's reason), and the last failed sync.
`version` counts the operators' saves, `synced_version` the save WeChat has: a definition
whose two versions differ (or that has no card id) is still to be sent.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.operators import Operator


class ReviewState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class WalletCard(Model):
    """The member card's definition (one row, saved whole by operators and audited)."""

    id = fields.IntField(primary_key=True)
    logo_url = fields.CharField(max_length=512, default="")
    color = fields.CharField(max_length=16)
    title = fields.CharField(max_length=32)
    notice = fields.CharField(max_length=64)
    description = fields.TextField()
    prerogative = fields.TextField()
    show_points = fields.BooleanField(default=True)
    show_tier = fields.BooleanField(default=True)
    show_coupons = fields.BooleanField(default=True)
    card_id = fields.CharField(max_length=64, null=True, unique=True)
    review_state = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.DRAFT)
    refuse_reason = fields.CharField(max_length=512, null=True)
    sync_error = fields.CharField(max_length=512, null=True)
    version = fields.IntField(default=0)
    synced_version = fields.IntField(default=0)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    updated_at = fields.DatetimeField()
    synced_at = fields.DatetimeField(null=True)
    reviewed_at = fields.DatetimeField(null=True)
    # a sync in flight claims the row until then, so two never create two cards at WeChat
    sync_claimed_until = fields.DatetimeField(null=True)

    class Meta:
        table = "wallet_cards"
