"""What clients send, read in one place: JSON bodies, query strings, path ids, cursors.

Every channel reads its input through these (the route table of `wxmember.core.endpoints`
calls them), so a rule about input is enforced once and a bad input is a 400 (or a 404 for a
path id that cannot name a record) with a stable code, never a 500:

- a JSON body is at most `MAX_DEPTH` levels deep and `MAX_NODES` values large, holds no
  integer outside 64 bits and no NaN or infinity, and is validated by the route's model;
- request models use the bounded types below (`Id`, `IsoDate`, `Moment`, `Text`, ...), so an
  id fits the 32-bit columns it is compared with and a date leaves room for date arithmetic;
- a path id is ASCII digits only (`int()` would read "１２" or "²" too) and fits an id column;
- a cursor is lower-case hex of an id, at most 16 digits.

A pattern must match the whole text (`fullmatch`): with `match`, the `$` of `^…$` also
matches before a final newline, so "1\n" would read as 1.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from wxmember.core.errors import NotFound, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_DEPTH = 16
MAX_NODES = 10_000
INT64 = 2**63 - 1
# Ids the API shows are rows of 32-bit id columns (the 64-bit ones will not pass 2**31 for a
# long time); a larger number cannot name a record and must not reach the database, where
# PostgreSQL would refuse to compare it with a 32-bit column.
MAX_ID = 2**31 - 1
# The calendar the service computes with: a date further out overflows date arithmetic.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_DIGITS = re.compile(r"^[0-9]+$", re.ASCII)
_SIGNED = re.compile(r"^-?[0-9]{1,19}$", re.ASCII)
_CURSOR = re.compile(r"^[0-9a-f]{1,16}$", re.ASCII)
# Control, format (bidirectional overrides, zero-width), surrogate, private-use, unassigned,
# line and paragraph separators: never part of what people type as a name or a title.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class BodyTooComplex(ValueError):
    """A JSON body deeper or larger than the service reads."""


# ----------------------------------------------------------------- bounded types


def parse_date(value: Any) -> date:
    """A real calendar date written YYYY-MM-DD, between FIRST_DAY and LAST_DAY."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if FIRST_DAY <= day <= LAST_DAY:
                return day
            raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    raise ValueError("a real date written YYYY-MM-DD")


def _moment(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a date and time with its offset, like 2026-05-01T10:00:00+08:00")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("a date and time the calendar can hold") from None
    if not FIRST_DAY <= utc.date() <= LAST_DAY:
        raise ValueError(f"a moment from {FIRST_DAY} to {LAST_DAY}")
    return utc


def printable(value: str) -> str:
    """The text unchanged, if it has no control or invisible formatting characters."""
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value):
        raise ValueError("no control or invisible formatting characters")
    return value


def clean_text(value: str) -> str:
    """Text as people type it: NFC, trimmed, `printable`."""
    return printable(unicodedata.normalize("NFC", value).strip())


def clean_multiline(value: str) -> str:
    """Like `clean_text`, but line breaks (and tabs) may separate lines and paragraphs."""
    lines = [clean_text(line) for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(line.replace("\t", " ") for line in lines).strip()


# Everywhere people type text (names, titles, terms, reasons, addresses), after the field's
# own length constraints: `Annotated[str, StringConstraints(strip_whitespace=True,
# min_length=1, max_length=40), CleanText]`.
CleanText = AfterValidator(clean_text)


_SPACES = re.compile(r"\s+")


def normalise_name(raw: str) -> str:
    """A name as shown (a tag's, a saved segment's): NFC, trimmed, each run of spaces one
    space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()


def name_key(name: str) -> str:
    """The form two names are compared in, for names unique whatever their case and spacing:
    case folded, NFKC, spaces as in `normalise_name`."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


# The same characters refused, the text kept as sent (where a handler judges its spacing).
Printable = AfterValidator(printable)
CleanLines = AfterValidator(clean_multiline)


# A row id in a body (JSON integer, 1..MAX_ID).
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
# The same or null (the bounds on the field itself, where a model's readers look for them).
MaybeId = Annotated[int | None, Field(strict=True, ge=1, le=MAX_ID)]
# A date in a body or a query: only `YYYY-MM-DD`, in the calendar the service computes with.
IsoDate = Annotated[date, BeforeValidator(parse_date)]
# A moment with its offset, in that calendar, returned in UTC.
Moment = Annotated[datetime, AfterValidator(_moment)]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)


def _month(value: object) -> date | None:
    if value in (None, ""):
        return None
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 2000 <= int(match[1]) <= 2100 or not 1 <= int(match[2]) <= 12:
        raise ValueError("must look like 2025-01")
    return date(int(match[1]), int(match[2]), 1)


# A month in a query, `YYYY-MM` (2000..2100), as its first day; empty or absent: None.
MaybeMonth = Annotated[
    date | None,
    BeforeValidator(_month),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _MONTH.pattern}, {"type": "null"}]}),
]


def _local_moment(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return _moment(value)
    # kept as sent, for the handler to read in the brand's time zone: a day's margin at each
    # end of the calendar leaves room for any zone's offset
    if not FIRST_DAY < value.date() < LAST_DAY:
        raise ValueError(f"a moment from {FIRST_DAY} to {LAST_DAY}")
    return value


# A moment with its offset (returned in UTC), or a wall-clock time without one (or a date, its
# midnight), returned as sent for the handler to read in the brand's time zone.
LocalMoment = Annotated[datetime, AfterValidator(_local_moment)]


def _ascii_int(value: Any) -> Any:
    """Query text must be ASCII digits: `int()` would also read "１２", "1_0" or " 12"."""
    if isinstance(value, str) and not _SIGNED.fullmatch(value):
        raise ValueError("must be a whole number written in digits 0-9")
    return value


# A whole number in a query string (ASCII digits, bounded by the field's own range).
QueryInt = BeforeValidator(_ascii_int)
Limit = Annotated[int, QueryInt, Field(ge=1, le=100)]


def _flag(value: Any) -> bool:
    if value in (True, "1", "true"):
        return True
    if value in (False, "0", "false"):
        return False
    raise ValueError("must be 1 or 0")


# A yes/no query parameter: `1`/`true` or `0`/`false`.
Flag = Annotated[bool, BeforeValidator(_flag)]


def _cursor(value: Any) -> int:
    if isinstance(value, str) and _CURSOR.fullmatch(value):
        number = int(value, 16)
        if number <= INT64:
            return number
    raise ValueError("the next_cursor of a previous page")


Cursor = Annotated[
    int,
    BeforeValidator(_cursor),
    WithJsonSchema({"type": "string", "pattern": _CURSOR.pattern, "maxLength": 16}),
]


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after this id (`Cursor` reads it back)."""
    return format(last_id, "x")


class Body(BaseModel):
    """A JSON request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    """Query parameters: unknown ones are ignored, as browsers and proxies add their own."""

    model_config = ConfigDict(extra="ignore")


class Page(Query):
    """`?cursor=&limit=`: continue after the id the cursor names; the page size."""

    cursor: Cursor | None = None
    limit: Limit = 20


# ----------------------------------------------------------------- readers


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def check_shape(data: Any) -> None:
    """Refuse a decoded body deeper, larger or with wider integers than the service reads."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise BodyTooComplex(f"more than {MAX_NODES} values")
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise BodyTooComplex(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise BodyTooComplex(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64:
            raise BodyTooComplex("a number beyond 64 bits")


def parse_json(raw: bytes | str) -> Any:
    """Decode a JSON document within the service's limits; ValidationFailed otherwise."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
        check_shape(data)
    except BodyTooComplex as exc:
        raise ValidationFailed(
            f"The body is too complex: {exc}.", code="body_too_complex"
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed("The body is not valid JSON.", code="invalid_json") from None
    return data


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """Parse and validate a JSON body; a clear 400 naming the first bad field otherwise."""
    if request.content_type != "application/json":
        raise ValidationFailed(
            "Send a JSON body (Content-Type: application/json).", code="not_json"
        )
    return validate(model, parse_json(await request.read()))


def _field_code(model: type[BaseModel], name: str) -> str:
    field = model.model_fields.get(name)
    extra = field.json_schema_extra if field is not None else None
    if isinstance(extra, dict) and isinstance(extra.get("error_code"), str):
        return str(extra["error_code"])
    return f"invalid_{name}"


def validate(model: type[ModelT], raw: Any) -> ModelT:
    """Validate data into a model, turning pydantic's report into one domain error.

    The code is `invalid_<field>` for the first bad field (or the field's declared
    `error_code`), `validation_failed` when the whole body has the wrong shape.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        message = first["msg"].removeprefix("Value error, ")
        code = _field_code(model, str(first["loc"][0])) if first["loc"] else "validation_failed"
        raise ValidationFailed(f"{field}: {message}", code=code, details={"field": field}) from None


def read_query(request: web.Request, model: type[ModelT]) -> ModelT:
    """Validate the query string into a model (the first value of a repeated parameter).

    An empty parameter (`?cursor=`, as forms and clients that fill a template send it) counts
    as absent.
    """
    values: Mapping[str, str] = {
        key: request.query[key] for key in request.query if request.query[key] != ""
    }
    return validate(model, values)


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path; a 404 for anything else (no 500, never another record)."""
    raw = request.match_info.get(name, "")
    if not _DIGITS.fullmatch(raw) or len(raw) > 10 or int(raw) > MAX_ID:
        raise NotFound("No such record.", code="not_found")
    return int(raw)


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without one.

    What the token holds is the signer's to judge (`TokenSigner.verify` refuses any string
    that is not one of its tokens with a 401).
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
