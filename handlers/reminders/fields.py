"""What a reminder can say: the field catalogue per kind and WeChat's value rules per data key.

A template data key names its value type by prefix (`thing1`, `date2`, `number3`, WECHAT.md
B.6). Each catalogue field declares what it renders to and its longest rendering, so a mapping
is checked once, when the rule is saved: a field must render to something the key's type
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
from typing import Any

from wxmember.core.errors import ValidationFailed
from wxmember.core.models.reminders import Channel, ReminderKind

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


_ALL = frozenset(ReminderKind)
_BIRTHDAY = frozenset({ReminderKind.BIRTHDAY})
_POINTS = frozenset({ReminderKind.POINTS_EXPIRING})
_COUPON = frozenset({ReminderKind.COUPON_EXPIRING})
_EXPIRY = _POINTS | _COUPON

CATALOGUE: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("member_name", "name", 10, _ALL, "the member's name (会员 when unsuitable)"),
        FieldSpec("brand_name", "text", 20, _ALL, "the brand's name, at most 20 characters"),
        FieldSpec("tier_name", "text", 32, _ALL, "the member's tier"),
        FieldSpec("card_no", "code", 16, _ALL, "the member card number"),
        FieldSpec("send_date", "date", 11, _ALL, "the day the reminder is sent"),
        FieldSpec("notice_phrase", "phrase", 5, _ALL, "生日快乐 / 积分将过期 / 券将过期"),
        FieldSpec("days_left", "number", 2, _ALL, "days until the birthday or the expiry"),
        FieldSpec("birthday", "date", 11, _BIRTHDAY, "this year's birthday"),
        FieldSpec("gift_name", "text", 20, _BIRTHDAY, "the birthday gift (rules with a gift)"),
        FieldSpec("points", "number", 10, _POINTS, "points expiring that day"),
        FieldSpec("points_balance", "number", 10, _POINTS, "the member's points balance"),
        FieldSpec("expiry_date", "date", 11, _EXPIRY, "the last day the points or coupon work"),
        FieldSpec("expiry_time", "datetime", 17, _EXPIRY, "the last minute they work"),
        FieldSpec("coupon_title", "text", 20, _COUPON, "the coupon's title"),
        FieldSpec("coupon_value", "text", 24, _COUPON, "what the coupon does, e.g. 满50减10"),
        FieldSpec("coupon_code", "code", 14, _COUPON, "the coupon code, e.g. ABCD-EFGH-JKMN"),
    )
}

NOTICE_PHRASES = {
    ReminderKind.BIRTHDAY: "生日快乐",
    ReminderKind.POINTS_EXPIRING: "积分将过期",
    ReminderKind.COUPON_EXPIRING: "券将过期",
}


def key_type(key: str, channel: Channel) -> str:
    """The value type a data key takes (`thing3` -> thing); `any` for old-style OA keys."""
    if not _KEY.match(key):
        raise _mapping_error("invalid_mapping_key", key, "is not a template data key")
    prefix = key.rstrip("0123456789")
    if prefix in VALUE_RULES or prefix == "enum":
        return prefix
    if channel is Channel.OFFICIAL_TEMPLATE:
        return ANY_KEY
    raise _mapping_error("invalid_mapping_key", key, "has no subscribe-message value type")


def value_ok(key_kind: str, value: str) -> bool:
    """Whether WeChat accepts `value` for a key of this type."""
    if not value:
        return False
    rule = VALUE_RULES.get(key_kind)
    return rule(value) if rule is not None else len(value) <= 200


def _mapping_error(code: str, key: str, message: str) -> ValidationFailed:
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
    mapping: Mapping[str, Any],
    kind: str,
    channel: Channel,
    *,
    has_gift: bool,
    catalogue: Mapping[str, FieldSpec] = CATALOGUE,
) -> dict[str, dict[str, Any]]:
    """Validate a mapping for a rule of `kind` (or a campaign, with its own catalogue); its
    stored form, or ValidationFailed naming the key."""
    checked: dict[str, dict[str, Any]] = {}
    for key, raw in mapping.items():
        entry = normalise_entry(raw)
        kind_of_key = key_type(key, channel)
        if "text" in entry:
            if not value_ok(kind_of_key, entry["text"]):
                raise _mapping_error("invalid_text", key, f"the text is not a valid {kind_of_key}")
        else:
            _check_field(key, kind_of_key, entry, catalogue.get(entry["field"]), kind, has_gift)
        checked[key] = entry
    return checked


def _check_field(
    key: str,
    key_kind: str,
    entry: dict[str, Any],
    spec: FieldSpec | None,
    kind: str,
    has_gift: bool,
) -> None:
    if spec is None or kind not in spec.kinds:
        raise _mapping_error("unknown_field", key, f"{entry['field']!r} is not a {kind} field")
    if spec.name == "gift_name" and not has_gift:
        raise _mapping_error("gift_field_without_gift", key, "the rule gives no gift")
    if key_kind == ANY_KEY:
        return
    if spec.renders not in ACCEPTS.get(key_kind, frozenset()):
        raise _mapping_error(
            "field_type_mismatch",
            key,
            f"a {key_kind} key cannot show {spec.name} (it renders as {spec.renders})",
        )
    limit = KEY_LIMITS.get(key_kind)
    if limit is not None and spec.max_length > limit:
        if not (entry["truncate"] and spec.renders in TRUNCATABLE):
            raise _mapping_error(
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


def catalogue_view() -> list[dict[str, Any]]:
    """The field catalogue for the admin console."""
    return [
        {
            "name": spec.name,
            "renders": spec.renders,
            "max_length": spec.max_length,
            "kinds": sorted(str(kind) for kind in spec.kinds),
            "description": spec.description,
        }
        for spec in CATALOGUE.values()
    ]


def display_name(raw: str | None) -> str:
    """A member's name as reminders show it: valid as a WeChat `name` value, else 会员."""
    name = (raw or "").strip()[:10]
    return name if name and _name(name) else "会员"
