"""What a reminder can say: the field catalogue per kind, checked and rendered by the template
rules shared with campaigns (handlers/messaging/templates.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.messaging import templates
from handlers.messaging.templates import (
    ACCEPTS,
    ANY_KEY,
    KEY_LIMITS,
    MAX_KEYS,
    TRUNCATABLE,
    VALUE_RULES,
    FieldSpec,
    apply_mapping,
    display_name,
    invalid_keys,
    key_type,
    mapping_error,
    value_ok,
)
from wxmember.core.models.reminders import Channel, ReminderKind

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


def check_mapping(
    mapping: Mapping[str, Any], kind: ReminderKind, channel: Channel, *, has_gift: bool
) -> dict[str, dict[str, Any]]:
    """Validate a mapping for a rule of `kind`; its stored form, or ValidationFailed naming
    the key. `gift_name` needs a rule that gives a gift."""
    checked = templates.check_mapping(mapping, kind, channel, catalogue=CATALOGUE)
    for key, entry in checked.items():
        if entry.get("field") == "gift_name" and not has_gift:
            raise mapping_error("gift_field_without_gift", key, "the rule gives no gift")
    return checked


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


__all__ = [
    "ACCEPTS",
    "ANY_KEY",
    "CATALOGUE",
    "KEY_LIMITS",
    "MAX_KEYS",
    "NOTICE_PHRASES",
    "TRUNCATABLE",
    "VALUE_RULES",
    "FieldSpec",
    "apply_mapping",
    "catalogue_view",
    "check_mapping",
    "display_name",
    "invalid_keys",
    "key_type",
    "value_ok",
]
