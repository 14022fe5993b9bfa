"""Template messages: WeChat's value rules per data key, and mappings from keys to fields.

A template data key names its value type by prefix (`thing1`, `date2`, `number3`, WECHAT.md
B.6). Each field of a catalogue (the reminders' in handlers/reminders/fields.py, the campaigns'
in handlers/campaigns/message.py) declares what it renders to and its longest rendering, so a
mapping is checked once, when it is saved: a field must render to something the key's type
accepts, and within the key's length unless the mapping declares truncation (text fields only).
Fixed text (`{"text": "..."}`) is checked against the key's rule directly.

Accepted mapping values: `"member_name"`, `{"field": "tier_name", "truncate": true}`,
`{"text": "生日快乐"}`. Official Account templates may also use old-style keys (`first`,
`keyword1`, `remark`), which take any field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import CleanText
from wxmember.core.models.reminders import Channel

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_DATE = r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日)"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_VALUE = re.compile(rf"(?:{_DATE}\s*)?{_TIME}")
_DATE_VALUE = re.compile(rf"{_DATE}(?:\s*{_TIME})?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_KEY = re.compile(r"^[a-z][a-z_]{0,30}[0-9]{0,3}$")

MAX_KEYS = 10


def _symbol(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace()


def _ranged(pattern: re.Pattern[str], value: str) -> bool:
    parts = value.split("~")
    return len(parts) <= 2 and all(pattern.fullmatch(part.strip()) for part in parts)


def _name(value: str) -> bool:
    if _CJK.search(value):
        return len(value) <= 10
    return len(value) <= 20 and all(c.isalpha() or _symbol(c) or c == " " for c in value)


def _number(value: str) -> bool:
    return bool(_NUMBER.fullmatch(value)) and sum(c.isdigit() for c in value) <= 32


# Written twice on purpose: the fake WeChat (wxmember/core/fake_wechat/values.py) judges sends
# by its own copy, so a mistake here is caught by a test instead of being shared by both sides.
VALUE_RULES = {
    "thing": lambda v: len(v) <= 20,
    "number": _number,
    "letter": lambda v: len(v) <= 32 and v.isascii() and v.isalpha(),
    "symbol": lambda v: len(v) <= 5 and all(_symbol(c) for c in v),
    "character_string": lambda v: len(v) <= 32 and all("!" <= c <= "~" for c in v),
    "time": lambda v: _ranged(_TIME_VALUE, v),
    "date": lambda v: _ranged(_DATE_VALUE, v),
    "amount": lambda v: bool(re.fullmatch(r"[¥￥$]?\d{1,10}(?:\.\d+)?元?", v)),
    "phone_number": lambda v: len(v) <= 17 and all(c.isdigit() or _symbol(c) for c in v),
    "car_number": lambda v: 0 < len(v) <= 8,
    "name": _name,
    "phrase": lambda v: len(v) <= 5 and all(_CJK.fullmatch(c) for c in v),
}
"""WeChat's rule per value type (WECHAT.md B.6), for a non-empty value."""

# What each kind of rendering may feed, and the longest value a key type takes.
ACCEPTS: dict[str, frozenset[str]] = {
    "thing": frozenset({"name", "text", "phrase", "number", "code", "date", "datetime"}),
    "name": frozenset({"name"}),
    "phrase": frozenset({"phrase"}),
    "number": frozenset({"number"}),
    "character_string": frozenset({"number", "code"}),
    "date": frozenset({"date", "datetime"}),
    "time": frozenset({"datetime"}),
}
KEY_LIMITS = {"thing": 20, "name": 10, "phrase": 5, "number": 32, "character_string": 32}
TRUNCATABLE = frozenset({"text", "name"})
ANY_KEY = "any"  # old-style Official Account keys: first, keyword1, remark


@dataclass(frozen=True)
class FieldSpec:
    """A value a reminder can show: what it renders to and at most how long it gets."""

    name: str
    renders: str
    max_length: int
    kinds: frozenset[str]
    description: str


def key_type(key: str, channel: Channel) -> str:
    """The value type a data key takes (`thing3` -> thing); `any` for old-style OA keys."""
    if not _KEY.fullmatch(key):
        raise mapping_error("invalid_mapping_key", key, "is not a template data key")
    prefix = key.rstrip("0123456789")
    if prefix in VALUE_RULES or prefix == "enum":
        return prefix
    if channel is Channel.OFFICIAL_TEMPLATE:
        return ANY_KEY
    raise mapping_error("invalid_mapping_key", key, "has no subscribe-message value type")


def value_ok(key_kind: str, value: str) -> bool:
    """Whether WeChat accepts `value` for a key of this type."""
    if not value:
        return False
    rule = VALUE_RULES.get(key_kind)
    return rule(value) if rule is not None else len(value) <= 200


def mapping_error(code: str, key: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"mapping.{key}: {message}.", code=code, details={"key": key})


def normalise_entry(raw: Any) -> dict[str, Any]:
    """A mapping value in its stored form: {"field", "truncate"} or {"text"}."""
    if isinstance(raw, str):
        return {"field": raw, "truncate": False}
    if isinstance(raw, Mapping):
        if "text" in raw:
            return {"text": raw["text"]}
        return {"field": raw["field"], "truncate": bool(raw.get("truncate", False))}
    raise TypeError(f"mapping value {raw!r}")


def check_mapping(
    mapping: Mapping[str, Any], kind: str, channel: Channel, *, catalogue: Mapping[str, FieldSpec]
) -> dict[str, dict[str, Any]]:
    """Validate a mapping against the fields of `catalogue` that `kind` may use; its stored
    form, or ValidationFailed naming the key."""
    checked: dict[str, dict[str, Any]] = {}
    for key, raw in mapping.items():
        entry = normalise_entry(raw)
        kind_of_key = key_type(key, channel)
        if "text" in entry:
            if not value_ok(kind_of_key, entry["text"]):
                raise mapping_error("invalid_text", key, f"the text is not a valid {kind_of_key}")
        else:
            _check_field(key, kind_of_key, entry, catalogue.get(entry["field"]), kind)
        checked[key] = entry
    return checked


def _check_field(
    key: str,
    key_kind: str,
    entry: dict[str, Any],
    spec: FieldSpec | None,
    kind: str,
) -> None:
    if spec is None or kind not in spec.kinds:
        raise mapping_error("unknown_field", key, f"{entry['field']!r} is not a {kind} field")
    if key_kind == ANY_KEY:
        return
    if spec.renders not in ACCEPTS.get(key_kind, frozenset()):
        raise mapping_error(
            "field_type_mismatch",
            key,
            f"a {key_kind} key cannot show {spec.name} (it renders as {spec.renders})",
        )
    limit = KEY_LIMITS.get(key_kind)
    if limit is not None and spec.max_length > limit:
        if not (entry["truncate"] and spec.renders in TRUNCATABLE):
            raise mapping_error(
                "value_too_long",
                key,
                f"{spec.name} may be {spec.max_length} characters and a {key_kind} key takes "
                f"{limit}; declare truncate to cut it",
            )


def apply_mapping(
    mapping: Mapping[str, Mapping[str, Any]], values: Mapping[str, str], channel: Channel
) -> dict[str, str]:
    """The template data: each key's field value (cut when declared) or fixed text."""
    data: dict[str, str] = {}
    for key, entry in mapping.items():
        if "text" in entry:
            data[key] = str(entry["text"])
            continue
        value = values[entry["field"]]
        limit = KEY_LIMITS.get(key_type(key, channel))
        if entry.get("truncate") and limit is not None and len(value) > limit:
            value = value[: limit - 1] + "…"
        data[key] = value
    return data


def invalid_keys(data: Mapping[str, str], channel: Channel) -> list[str]:
    """Keys whose rendered value WeChat would refuse (47003), checked before sending."""
    return [key for key, value in data.items() if not value_ok(key_type(key, channel), value)]


def display_name(raw: str | None) -> str:
    """A member's name as reminders show it: valid as a WeChat `name` value, else 会员."""
    name = (raw or "").strip()[:10]
    return name if name and _name(name) else "会员"


# How an API body gives a template message: the template, the page it opens, the mapping.
TemplateId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,64}$")
]
Page = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_\-./?=&%]{1,200}$")
]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class FieldRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: FieldName
    truncate: StrictBool = False


class FixedText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1, max_length=200), CleanText]


MappingValue = FieldName | FieldRef | FixedText
TemplateMapping = Annotated[dict[str, MappingValue], Field(min_length=1, max_length=MAX_KEYS)]


def mapping_input(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A parsed mapping back in its JSON form, for checking and storing."""
    return {
        key: value.model_dump() if isinstance(value, BaseModel) else value
        for key, value in mapping.items()
    }
