"""The brand's member card in WeChat's card wallet (微信会员卡): one definition per brand.

What operators configure (logo, colour, texts, the fields shown) and what WeChat said about
it: the card id it gave at `card/create`, the review state (draft until first sent, submitted
while WeChat reviews it, approved or rejected with WeChat's reason), and the last failed sync.
`version` counts the operators' saves, `synced_version` the save WeChat has: a definition
whose two versions differ (or that has no card id) is still to be sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
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


class HolderState(StrEnum):
    HELD = "held"
    DELETED = "deleted"


class WalletCardHolder(Model):
    """A member who added the card to their WeChat wallet, and the wallet's sync state.

    The card's code is the member's card number. `wanted_version` is bumped by the database
    itself, in the transaction of the change (at its commit on PostgreSQL), whenever the
    member's points balance or tier or one of their coupons changes (triggers of migration 0017
    on `members` and `coupons`, so no write path can forget it); `sent_version` is the version
    WeChat last acknowledged. A held card whose versions differ is the sync outbox: one sender
    claims it (`claimed_until`), reads the member's state as it is then, and sends it, so many
    changes make one call and the latest state wins. A card not yet activated (`activated_at`
    null) is activated first.
    """

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, unique=True, on_delete=fields.RESTRICT
    )
    member_id: int
    card_id = fields.CharField(max_length=64)
    code = fields.CharField(max_length=32)
    official_openid = fields.CharField(max_length=64, null=True)
    state = fields.CharEnumField(HolderState, max_length=16, default=HolderState.HELD)
    activated_at = fields.DatetimeField(null=True)
    wanted_version = fields.IntField(default=1)
    sent_version = fields.IntField(default=0)
    attempt_after = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=512, null=True)
    sent_bonus = fields.IntField(null=True)
    sent_at = fields.DatetimeField(null=True)
    added_at = fields.DatetimeField()
    deleted_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "wallet_card_holders"
        unique_together = (("card_id", "code"),)


class WalletCardEvent(Model):
    """One push about the card in a member's wallet (added, deleted, viewed, …), kept as sent.

    `push_key` (the sender, the push's CreateTime, the event and the code) makes WeChat's
    retries of one push record it once.
    """

    id = fields.BigIntField(primary_key=True)
    push_key = fields.CharField(max_length=160, unique=True)
    event = fields.CharField(max_length=48)
    card_id = fields.CharField(max_length=64)
    code = fields.CharField(max_length=32, null=True)
    official_openid = fields.CharField(max_length=64, null=True)
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    member_id: int | None
    detail: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "wallet_card_events"
        indexes = (("member_id", "created_at"), ("event", "created_at"))
