"""Value classes of subscribe and template message data, as WeChat validates them.

A data key names its class by prefix: ``thing1``, ``character_string2``, ``phone_number3``.
The rules follow the mini-program subscribe-message documentation; a value breaking them makes
WeChat answer 47003 ``argument invalid! data.<key>.value invalid``. Keys whose prefix is not a
known class (old-style ``first``/``keyword1``) accept any non-empty value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_DATE = r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日)"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_VALUE = re.compile(rf"(?:{_DATE}\s*)?{_TIME}")
_DATE_VALUE = re.compile(rf"{_DATE}(?:\s*{_TIME})?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_AMOUNT = re.compile(r"[¥￥$€£]?(\d+(?:\.\d+)?)元?")


def _is_symbol(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace()


def _ranged(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        parts = value.split("~")
        return len(parts) <= 2 and all(pattern.fullmatch(p.strip()) for p in parts)

    return check


def _number(value: str) -> bool:
    return bool(_NUMBER.fullmatch(value)) and sum(c.isdigit() for c in value) <= 32


def _amount(value: str) -> bool:
    match = _AMOUNT.fullmatch(value)
    return match is not None and sum(c.isdigit() for c in match.group(1)) <= 10


def _car_number(value: str) -> bool:
    if len(value) > 8:
        return False
    middle_ok = all(c.isascii() and c.isalnum() for c in value[1:-1])
    ends_ok = all(c.isascii() and c.isalnum() or _CJK.fullmatch(c) for c in (value[0], value[-1]))
    return middle_ok and ends_ok


def _name(value: str) -> bool:
    if _CJK.search(value):
        return len(value) <= 10
    return len(value) <= 20 and all(c.isalpha() or _is_symbol(c) or c == " " for c in value)


# Written twice on purpose: the service validates reminder mappings with its own copy
# (handlers/reminders/fields.py); this one plays WeChat's part, so the two check each other.
VALUE_RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: len(v) <= 20,
    "number": _number,
    "letter": lambda v: len(v) <= 32 and v.isascii() and v.isalpha(),
    "symbol": lambda v: len(v) <= 5 and all(_is_symbol(c) for c in v),
    "character_string": lambda v: len(v) <= 32 and all("!" <= c <= "~" for c in v),
    "time": _ranged(_TIME_VALUE),
    "date": _ranged(_DATE_VALUE),
    "amount": _amount,
    "phone_number": lambda v: len(v) <= 17 and all(c.isdigit() or _is_symbol(c) for c in v),
    "car_number": _car_number,
    "name": _name,
    "phrase": lambda v: len(v) <= 5 and all(_CJK.fullmatch(c) for c in v),
}
"""value class -> predicate on a non-empty value."""


def value_class(key: str) -> str | None:
    """The value class a data key belongs to (``thing3`` -> ``thing``), or None."""
    prefix = key.rstrip("0123456789")
    return prefix if prefix in VALUE_RULES or prefix == "enum" else None


def value_ok(key: str, value: object, enum: Sequence[str] | None = None) -> bool:
    """Whether ``value`` is acceptable for data key ``key``."""
    if not isinstance(value, str) or not value:
        return False
    cls = value_class(key)
    if cls is None:
        return True
    if cls == "enum":
        return value in enum if enum is not None else len(value) <= 20
    return VALUE_RULES[cls](value)
