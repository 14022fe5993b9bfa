"""Reading the set-up forms: text fields into typed values, and refusals back to their fields.

A form posts text; `FormReader` turns each field into the value the handler takes (whole
numbers, yuan into fen, local dates and times into the brand's zone) within the bounds the
database holds, and remembers a refusal per field (`invalid_<field>`) instead of stopping at the
first. The rules that tie fields together stay in `handlers/`; when a handler refuses,
`field_of` names the form field its error concerns, so the page shows it next to that field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from console.i18n import catalogue, error_text
from console.pages import render
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.inputs import FIRST_DAY, LAST_DAY, clean_multiline, clean_text, printable

WHOLE = 1_000_000_000
MAX_FEN = 100_000_000
FORM = "form"  # the slot for refusals that concern no single field

_WHOLE = re.compile(r"^-?[0-9]{1,10}$", re.ASCII)
_YUAN = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,2})?$", re.ASCII)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_LOCAL_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$", re.ASCII)


def services_of(request: web.Request) -> Services:
    return request.config_dict[keys.SERVICES]


class FormReader:
    """Typed values out of a posted form; `errors` maps a field to the code of its refusal."""

    def __init__(self, form: Mapping[str, str], tz: ZoneInfo | None = None) -> None:
        self.form = form
        self.tz = tz
        self.errors: dict[str, str] = {}

    def fail(self, name: str, code: str | None = None) -> None:
        self.errors.setdefault(name, code or f"invalid_{name}")

    def raw(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        """One line of text as people type it (NFC, trimmed, no control characters)."""
        try:
            value = clean_text(self.form.get(name, ""))
        except ValueError:
            self.fail(name)
            return ""
        if len(value) > max_length or (required and not value):
            self.fail(name)
        return value

    def exact_text(self, name: str, *, max_length: int) -> str:
        """Text kept as typed (where a handler judges its spacing), without control characters."""
        value = self.form.get(name, "")
        try:
            printable(value)
        except ValueError:
            self.fail(name)
            return ""
        if len(value) > max_length:
            self.fail(name)
        return value

    def lines(self, name: str, *, max_length: int) -> str:
        """Several lines of text (terms, a description)."""
        try:
            value = clean_multiline(self.form.get(name, ""))
        except ValueError:
            self.fail(name)
            return ""
        if len(value) > max_length:
            self.fail(name)
        return value

    def whole(
        self, name: str, *, low: int = -WHOLE, high: int = WHOLE, field: str | None = None
    ) -> int | None:
        """A whole number written in digits, `low..high`; None when left empty."""
        raw = self.raw(name)
        if not raw:
            return None
        if not _WHOLE.match(raw) or not low <= int(raw) <= high:
            self.fail(field or name)
            return None
        return int(raw)

    def required_whole(
        self, name: str, *, low: int = -WHOLE, high: int = WHOLE, field: str | None = None
    ) -> int:
        value = self.whole(name, low=low, high=high, field=field)
        if value is None:
            self.fail(field or name)
            return 0
        return value

    def fen(self, name: str, *, field: str | None = None) -> int | None:
        """An amount typed in yuan (at most two decimals), in fen; None when left empty."""
        raw = self.raw(name)
        if not raw:
            return None
        try:
            fen = int(Decimal(raw) * 100) if _YUAN.match(raw) else -1
        except InvalidOperation:
            fen = -1
        if not 0 <= fen <= MAX_FEN:
            self.fail(field or name)
            return None
        return fen

    def day(self, name: str, *, field: str | None = None) -> date | None:
        """A date from a date input (YYYY-MM-DD); None when left empty."""
        raw = self.raw(name)
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw) if _DATE.match(raw) else None
        except ValueError:
            value = None
        if value is None or not FIRST_DAY < value < LAST_DAY:
            self.fail(field or name)
            return None
        return value

    def moment(self, name: str, *, field: str | None = None) -> datetime | None:
        """A local date and time (a datetime-local input) in the brand's zone; None if empty."""
        raw = self.raw(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw) if _LOCAL_MOMENT.match(raw) else None
        except ValueError:
            value = None
        if value is None or not FIRST_DAY < value.date() < LAST_DAY:
            self.fail(field or name)
            return None
        return value.replace(tzinfo=self.tz)

    def flag(self, name: str) -> bool:
        """A checkbox: ticked or not."""
        return name in self.form

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = True) -> str:
        raw = self.raw(name)
        if raw in options or (not raw and not required):
            return raw
        self.fail(name)
        return ""

    def ids(self, values: list[str], name: str, *, high: int = WHOLE) -> list[int]:
        """Whole numbers ticked in a group of checkboxes."""
        out = []
        for raw in values:
            if not _WHOLE.match(raw) or not 0 <= int(raw) <= high:
                self.fail(name)
                return []
            out.append(int(raw))
        return out


def field_of(exc: DomainError, fields: tuple[str, ...], aliases: Mapping[str, str]) -> str:
    """The form field a refusal concerns: by its code (`aliases`), `details.field`, or
    `invalid_<field>`; FORM when none of the form's fields."""
    if exc.code in aliases:
        return aliases[exc.code]
    named = str(exc.details.get("field") or "").split(".")[0]
    if named in fields:
        return named
    if exc.code.startswith("invalid_") and exc.code.removeprefix("invalid_") in fields:
        return exc.code.removeprefix("invalid_")
    return FORM


def local_input(moment: datetime | None, tz: ZoneInfo) -> str:
    """A stored moment as a datetime-local input shows it, in the brand's zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def local_text(moment: datetime | None, tz: ZoneInfo) -> str:
    """A stored moment as staff read it, in the brand's zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def last_day(valid_until: datetime | None, tz: ZoneInfo) -> str:
    """The last usable day of a half-open validity that ends at `valid_until` (a local date)."""
    if valid_until is None:
        return ""
    return (valid_until.astimezone(tz) - timedelta(microseconds=1)).date().isoformat()


def yuan(fen: int | None) -> str:
    """Fen as yuan with the decimals it needs (1250 -> "12.5")."""
    if fen is None:
        return ""
    return f"{Decimal(fen) / 100:f}".rstrip("0").rstrip(".") if fen % 100 else str(fen // 100)


def field_error(code: str) -> str:
    """What a refused field of a set-up form shows: the area's own text for its code
    (`setup.errors.<code>`), else the catalogue's text for the refusal."""
    return catalogue().get(f"setup.errors.{code}") or error_text(code)


def setup_render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """`render` with what every set-up page formats: times in the brand's zone, yuan."""
    tz = services_of(request).config.brand.tz
    return render(
        request,
        template,
        status=status,
        when=lambda moment: local_text(moment, tz),
        yuan=yuan,
        field_error=field_error,
        **context,
    )
