"""Members moved in from another membership system: the imports and the members they brought."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator


class ImportStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class MemberImport(Model):
    """One CSV of members applied batch by batch: its file, its progress and its counts.

    `cursor` is the last line of the file whose batch committed, so an interrupted import of
    the same file (same `file_sha256`) resumes after it.
    """

    id = fields.IntField(primary_key=True)
    file_sha256 = fields.CharField(max_length=64, db_index=True)
    filename = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(ImportStatus, max_length=16, default=ImportStatus.RUNNING)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="member_imports", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    actor = fields.CharField(max_length=64)
    cursor = fields.IntField(default=0)
    rows = fields.IntField(default=0)
    created = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    changed = fields.IntField(default=0)
    refused = fields.IntField(default=0)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "member_imports"


class MemberImportProblem(Model):
    """A row of an import that was not applied: its line, what it names and why."""

    id = fields.BigIntField(primary_key=True)
    member_import: fields.ForeignKeyRelation[MemberImport] = fields.ForeignKeyField(
        "models.MemberImport", related_name="problems", on_delete=fields.CASCADE
    )
    member_import_id: int
    line = fields.IntField()
    card_no = fields.CharField(max_length=32, default="")
    problem = fields.CharField(max_length=32)
    detail = fields.CharField(max_length=200, default="")

    class Meta:
        table = "member_import_problems"
        indexes = (("member_import_id", "line"),)


class ImportedMember(Model):
    """A member created by an import, with the fingerprint of the row that made them.

    The fingerprint tells a row imported again unchanged (nothing to do) from a changed one
    (reported, never applied). `claimed_at` is set when a WeChat user takes the card over.
    """

    id = fields.IntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="imported", on_delete=fields.RESTRICT
    )
    member_id: int
    member_import: fields.ForeignKeyRelation[MemberImport] = fields.ForeignKeyField(
        "models.MemberImport", related_name="members", on_delete=fields.RESTRICT
    )
    member_import_id: int
    line = fields.IntField()
    fingerprint = fields.CharField(max_length=64)
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "imported_members"
