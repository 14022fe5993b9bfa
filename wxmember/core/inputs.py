"""What clients send, read in one place: JSON bodies, query parameters, path ids, cursors.

Every channel reads its input through these, so a rule about input (what an id looks like,
which dates exist, how a cursor is written) is enforced once; a bad input is a 400 (or a 404 for
a path id that cannot name a record) with a stable code, never a 500.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ValidationError

from wxmember.core.errors import NotFound, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)
EnumT = TypeVar("EnumT", bound=StrEnum)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: Any) -> date:
    """A real calendar date written YYYY-MM-DD; ValueError otherwise."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("a real date written YYYY-MM-DD")


# A date in a request body: only `YYYY-MM-DD`, never a number or another ISO form.
IsoDate = Annotated[date, BeforeValidator(parse_date)]


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """Parse and validate a JSON body; a clear 400 naming the first bad field otherwise."""
    if request.content_type != "application/json":
        raise ValidationFailed(
            "Send a JSON body (Content-Type: application/json).", code="not_json"
        )
    try:
        raw = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The body is not valid JSON.", code="invalid_json") from None
    return validate(model, raw)


def validate(model: type[ModelT], raw: Any) -> ModelT:
    """Validate data into a model, turning pydantic's report into one domain error."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(
            f"{field}: {message}",
            code=f"invalid_{first['loc'][0]}" if first["loc"] else "validation_failed",
            details={"field": field},
        ) from None


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within bounds, or a 400."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number.", code=f"invalid_{name}") from None
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be {low}..{high}.", code=f"invalid_{name}")
    return value


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def page_query(request: web.Request, default_limit: int = 20) -> tuple[int | None, int]:
    """`?cursor=&limit=`: the id to continue after (None for the first page) and the size."""
    limit = query_int(request, "limit", default_limit, 1, 100)
    raw = request.query.get("cursor", "")
    if not raw:
        return None, limit
    try:
        return int(raw, 16), limit
    except ValueError:
        raise ValidationFailed("cursor is not valid.", code="invalid_cursor") from None


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path; a 404 for anything else (no 500 on `/members/abc`)."""
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("No such record.", code="not_found")
    return int(raw)


def query_enum(
    request: web.Request, name: str, enum: type[EnumT], *, code: str | None = None
) -> EnumT | None:
    """An enumerated query parameter, or None when absent; 400 `invalid_<name>` otherwise."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationFailed(
            f"{name} must be one of {allowed}.", code=code or f"invalid_{name}"
        ) from None


def query_flag(request: web.Request, name: str) -> bool | None:
    """A yes/no query parameter (`1`/`true`, `0`/`false`), or None when absent."""
    raw = request.query.get(name, "")
    if raw == "":
        return None
    if raw in ("1", "true"):
        return True
    if raw in ("0", "false"):
        return False
    raise ValidationFailed(f"{name} must be 1 or 0.", code=f"invalid_{name}")


def query_date(request: web.Request, name: str) -> date | None:
    """A date query parameter written YYYY-MM-DD, or None when absent."""
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be YYYY-MM-DD.", code=f"invalid_{name}") from None
