"""The audit log: every operator write goes through `record`, inside the write's transaction."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.kernel import continue_after
from wxmember.core.log import request_id_var
from wxmember.core.models import AuditEntry, Operator
from wxmember.core.prepared import InsertRow

_INSERT = InsertRow(AuditEntry)


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
    entry = await _INSERT.insert(
        using_db or AuditEntry._meta.db,
        operator=actor,
        actor=actor.username,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=snapshot(before) if before is not None else None,
        after=snapshot(after) if after is not None else None,
        request_id=request_id_var.get(),
    )
    if entry is None:  # a plain insert answers its row or raises
        raise RuntimeError("the audit row was not written")
    return entry


async def entries(
    after_id: int | None,
    limit: int,
    target_type: str | None = None,
    *,
    operator_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    target_id: int | str | None = None,
) -> list[AuditEntry]:
    """Newest first, filtered, `limit + 1` rows so the caller knows whether there is a next page.

    `since` is inclusive and `until` exclusive. Each filter has an index ending with the id
    (staff member, action, record) or is the time column's own, so a page reads few rows.
    """
    query = AuditEntry.all().order_by("-id")
    query = continue_after(query, after_id)
    if target_type:
        query = query.filter(target_type=target_type)
        if target_id is not None:  # one record: the (target_type, target_id) index
            query = query.filter(target_id=str(target_id))
    if operator_id is not None:
        query = query.filter(operator_id=operator_id)
    if action:
        query = query.filter(action=action)
    if since is not None:
        query = query.filter(created_at__gte=since)
    if until is not None:
        query = query.filter(created_at__lt=until)
    return await query.limit(limit + 1)


async def actions() -> list[str]:
    """Every action the log holds, in name order (read from the action index)."""
    found = await AuditEntry.all().distinct().order_by("action").values_list("action", flat=True)
    return [str(action) for action in found]
