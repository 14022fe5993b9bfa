"""Stores (门店): the brand's offline shops, the cashiers bound to them, and where members
opened their cards.

Other records name a store by its `code` (the till's purchases, refunds and coupon write-offs
keep the code as text, the column the till always had): a code never changes once the store
exists, and a store that was used is deactivated rather than deleted, so every code on record
keeps naming its store.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class Store(Model):
    """One offline shop, known to the till and the Official Account QR codes by its code."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=64)
    city = fields.CharField(max_length=32, default="")
    address = fields.CharField(max_length=200, default="")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "stores"


class OperatorStore(Model):
    """A cashier bound to a store: a bound cashier acts for its stores only."""

    id = fields.IntField(primary_key=True)
    operator: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="store_links", on_delete=fields.CASCADE
    )
    operator_id: int
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "models.Store", related_name="operator_links", on_delete=fields.RESTRICT
    )
    store_id: int
    created_at = fields.DatetimeField()

    class Meta:
        table = "operator_stores"
        unique_together = (("operator_id", "store_id"),)
        indexes = (("store_id", "operator_id"),)


class OpeningSource(StrEnum):
    MINIAPP_SCENE = "miniapp_scene"
    OFFICIAL_SCENE = "official_scene"
    IMPORT = "import"


class StoreCardOpening(Model):
    """The store a member opened their card at, once per member, and how it was known."""

    id = fields.BigIntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="store_opening", on_delete=fields.CASCADE
    )
    member_id: int
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField(
        "models.Store", related_name="card_openings", on_delete=fields.RESTRICT
    )
    store_id: int
    source = fields.CharEnumField(OpeningSource, max_length=16)
    opened_at = fields.DatetimeField()

    class Meta:
        table = "store_card_openings"
        indexes = (("store_id", "opened_at"),)
