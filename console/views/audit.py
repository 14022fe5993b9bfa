"""操作日志 (the owner): every staff write, by staff member, action and local days; paged.

Each entry shows what changed: for a change, each field that differs with its old and new
value; for a new record, its fields; for a removed one, what it held. Secrets never show:
handlers record passwords as "changed", and any field named like a secret is hidden here too.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import Field, StringConstraints

from console.i18n import catalogue, error_text
from console.pages import Pages, render
from handlers import audit, operators
from handlers.operators.permissions import Area
from wxmember.core import keys
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import (
    MAX_ID,
    Cursor,
    IsoDate,
    Query,
    QueryInt,
    encode_cursor,
    validate,
)
from wxmember.core.localtime import local_midnight
from wxmember.core.models import AuditEntry

pages = Pages()

PAGE_SIZE = 30
SECRET_WORDS = ("password", "secret", "token", "hash", "session_key")


class AuditQuery(Query):
    operator_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None
    action: Annotated[str | None, StringConstraints(max_length=64)] = None
    from_: Annotated[IsoDate | None, Field(alias="from")] = None
    to: IsoDate | None = None
    cursor: Cursor | None = None


def _problem(code: str) -> str:
    return catalogue().get(f"audit.errors.{code}") or error_text(code)


def _label(group: str, code: str) -> str:
    return catalogue().get(f"audit.{group}.{code}", code)


def _secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


def shown(key: str, value: Any) -> str:
    """A recorded value as staff read it; a secret never."""
    texts = catalogue()
    if value is None or value == "":
        return texts["audit.empty"]
    if _secret(key):
        return texts["audit.changed"] if value == "changed" else texts["audit.hidden"]
    if isinstance(value, bool):
        return texts["audit.yes"] if value else texts["audit.no"]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def changes(entry: AuditEntry) -> dict[str, Any]:
    """What an entry changed: fields with their old and new values, secrets hidden."""
    before, after = entry.before or {}, entry.after or {}
    if entry.before is not None and entry.after is not None:
        names = [*before, *(name for name in after if name not in before)]
        rows = [
            {
                "field": name,
                "before": shown(name, before.get(name)),
                "after": shown(name, after.get(name)),
            }
            for name in names
            if before.get(name) != after.get(name)
        ]
        return {"mode": "changed", "rows": rows}
    record = after if entry.after is not None else before
    mode = "created" if entry.after is not None else "removed"
    return {"mode": mode, "rows": [{"field": k, "value": shown(k, v)} for k, v in record.items()]}


@pages.get("/audit", area=Area.AUDIT)
async def audit_log(request: web.Request) -> web.StreamResponse:
    """The audit log, newest first, filtered by staff member, action and local days."""
    services = request.config_dict[keys.SERVICES]
    tz = services.config.brand.tz
    errors: dict[str, str] = {}
    values = {key: request.query[key] for key in request.query if request.query[key] != ""}
    try:
        query = validate(AuditQuery, values)
    except ValidationFailed as exc:
        field = str(exc.details.get("field", "form")).split(".")[0].rstrip("_")
        errors[field] = _problem(exc.code)
        query = AuditQuery()
    if query.from_ and query.to and query.to < query.from_:
        errors["to"] = _problem("invalid_range")
    rows: list[AuditEntry] = []
    if not errors:
        rows = await audit.entries(
            query.cursor,
            PAGE_SIZE,
            operator_id=query.operator_id,
            action=query.action,
            since=local_midnight(query.from_, tz) if query.from_ else None,
            until=local_midnight(query.to + timedelta(days=1), tz) if query.to else None,
        )
    shown_rows = rows[:PAGE_SIZE]
    filters = {
        "operator_id": values.get("operator_id", ""),
        "action": values.get("action", ""),
        "from": values.get("from", ""),
        "to": values.get("to", ""),
    }
    entries = [
        {
            "id": row.id,
            "when": row.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": row.actor,
            "action": _label("actions", row.action),
            "target": _label("targets", row.target_type),
            "target_id": row.target_id,
            "changes": changes(row),
        }
        for row in shown_rows
    ]
    staff = await operators.list_operators()
    codes = await audit.actions()
    if query.action and query.action not in codes:  # asked for by a link: show what is applied
        codes.append(query.action)
    actions = [(action, _label("actions", action)) for action in codes]
    kept = urlencode({name: value for name, value in filters.items() if value})
    return render(
        request,
        "audit/list.html",
        status=400 if errors else 200,
        entries=entries,
        staff_members=staff,
        actions=actions,
        filters=filters,
        errors=errors,
        kept=kept,
        next_cursor=encode_cursor(shown_rows[-1].id) if len(rows) > PAGE_SIZE else None,
        first_page=query.cursor is not None,
    )
