"""The audit log: every operator write goes through `record`, inside the write's transaction."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.kernel import continue_after
from wxmember.core.log import request_id_var
from wxmember.core.models import AuditEntry, Operator


def snapshot(values: dict[str, Any]) -> dict[str, Any]:
    """Make a record's fields JSON-safe for the before/after columns."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        out[key] = value
    return out


async def record(
    actor: Operator,
    action: str,
    target_type: str,
    target_id: int | str | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> AuditEntry:
    """Write one audit row: who, what, which record, before and after, and the request id."""
    return await AuditEntry.create(
        operator=actor,
        actor=actor.username,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=snapshot(before) if before is not None else None,
        after=snapshot(after) if after is not None else None,
        request_id=request_id_var.get(),
        using_db=using_db,
    )


async def entries(
    after_id: int | None, limit: int, target_type: str | None = None
) -> list[AuditEntry]:
    """Newest first, `limit + 1` rows so the caller knows whether there is a next page."""
    query = AuditEntry.all().order_by("-id")
    query = continue_after(query, after_id)
    if target_type:
        query = query.filter(target_type=target_type)
    return await query.limit(limit + 1)
