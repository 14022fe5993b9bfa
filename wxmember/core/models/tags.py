"""Member tags: labels that operators put on members by hand or from a CSV of card numbers.

A tag's name is unique regardless of case and spacing (`name_key` holds the folded form). A
member carries a tag at most once (a unique pair), and the pair is indexed both ways: the
member's tags by (member, tag), the members of a tag by (tag, member), which is what a
segment's "any / all / none of these tags" filter walks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class Tag(Model):
    """A label on members, named once whatever its case and spacing."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32)
    name_key = fields.CharField(max_length=32, unique=True)
    colour = fields.CharField(max_length=7, null=True)
    description = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tags"


class MemberTag(Model):
    """One member carrying one tag, with who put it there and when."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="tag_links", on_delete=fields.CASCADE
    )
    member_id: int
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "models.Tag", related_name="member_links", on_delete=fields.CASCADE
    )
    tag_id: int
    tagged_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="member_tags", null=True, on_delete=fields.SET_NULL
    )
    tagged_by_id: int | None
    tagged_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_tags"
        unique_together = (("member_id", "tag_id"),)
        indexes = (("tag_id", "member_id"),)


class ImportAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class TagImport(Model):
    """One CSV of card numbers applied to a tag: its counts and the rows that were refused."""

    id = fields.IntField(primary_key=True)
    tag: fields.ForeignKeyNullableRelation[Tag] = fields.ForeignKeyField(
        "models.Tag", related_name="imports", null=True, on_delete=fields.SET_NULL
    )
    tag_id: int | None
    tag_name = fields.CharField(max_length=32)
    action = fields.CharEnumField(ImportAction, max_length=8)
    filename = fields.CharField(max_length=200, default="")
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="tag_imports", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    actor = fields.CharField(max_length=64)
    rows = fields.IntField(default=0)
    changed = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    unknown = fields.IntField(default=0)
    invalid = fields.IntField(default=0)
    duplicates = fields.IntField(default=0)
    problems: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tag_imports"
