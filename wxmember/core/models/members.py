"""Members: the WeChat identity, the member card, the personal fields (encrypted where private)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from wxmember.core.errors import CardRequired
from wxmember.core.models.tiers import Tier


class Member(Model):
    """A person known by their mini-program openid — a card once they open one.

    Personal fields are wiped on account deletion (`deleted_at` set, `openid` cleared so the
    same WeChat account starts fresh) — the row stays so the ledgers keep their references.
    """

    id = fields.IntField(primary_key=True)
    openid = fields.CharField(max_length=64, unique=True, null=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    official_openid = fields.CharField(max_length=64, unique=True, null=True)
    session_key_enc = fields.CharField(max_length=255, null=True)
    token_version = fields.IntField(default=1)

    name = fields.CharField(max_length=32, null=True)
    gender = fields.CharField(max_length=16, null=True)  # male, female, undisclosed
    birthday = fields.DateField(null=True)
    birth_month = fields.SmallIntField(null=True)
    birth_day = fields.SmallIntField(null=True)
    birthday_changes = fields.SmallIntField(default=0)
    phone_enc = fields.CharField(max_length=255, null=True)
    phone_hash = fields.CharField(max_length=64, unique=True, null=True)

    card_no = fields.CharField(max_length=16, unique=True, null=True)
    card_opened_at = fields.DatetimeField(null=True)
    card_version = fields.IntField(default=1)
    code_secret = fields.CharField(max_length=64, null=True)
    tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name="members", null=True, on_delete=fields.RESTRICT
    )
    tier_id: int | None

    points_balance = fields.IntField(default=0)
    points_debt = fields.IntField(default=0)
    growth_total = fields.IntField(default=0)

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "members"
        # `id` last: the birthday pages of a reminder run walk this index in id order.
        # card_opened_at, deleted_at: the dashboard's cards opened and closed per day.
        indexes = (("birth_month", "birth_day", "id"), ("card_opened_at",), ("deleted_at",))
        # PostgreSQL keeps a tenth of each page free (fillfactor 90, migration
        # 0014_points_expiry), so that a new balance can stay on its row's page.

    @property
    def has_card(self) -> bool:
        return self.card_no is not None

    def require_card(self) -> Member:
        """The member, if they have opened a card; 409 `card_required` otherwise.

        The one place that refuses a member without a card, for reads and writes alike.
        """
        if self.card_no is None:
            raise CardRequired()
        return self
