"""Operators and cashiers, and the audit log of their writes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    CASHIER = "cashier"


class Operator(Model):
    """A staff account of the admin console or the POS."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=64, default="")
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    active = fields.BooleanField(default=True)
    token_version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "operators"


class AuditEntry(Model):
    """One operator write: who did what to which record, with the record before and after."""

    id = fields.BigIntField(primary_key=True)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    operator_id: int | None
    actor = fields.CharField(max_length=64)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=48)
    target_id = fields.CharField(max_length=64, null=True)
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"
        indexes = (("target_type", "target_id"), ("operator_id", "id"), ("action", "id"))
