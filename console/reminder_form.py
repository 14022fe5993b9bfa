"""The reminder rule form: what the operator typed, read into a rule for handlers/reminders.

A rule's template mapping is edited key by key: the operator lists the template's data keys
(`name1 date2 thing3`, or pastes the template's `{{thing1.DATA}}` text), then picks for each
key a catalogue field or a fixed text. Each key is checked on its own by the handlers' own
`check_mapping`, so every refusal is shown next to the key it concerns, live (htmx, on every
change) and again when the rule is saved. Saving goes through `create_rule` / `update_rule`,
which check the whole rule once more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.i18n import catalogue, error_text, translate
from handlers.reminders.fields import (
    CATALOGUE,
    KEY_LIMITS,
    MAX_KEYS,
    TRUNCATABLE,
    FieldSpec,
    check_mapping,
    key_type,
)
from handlers.reminders.rules import rule_view
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.inputs import clean_text
from wxmember.core.models.reminders import Channel, ReminderKind, ReminderRule

TEXT_SOURCE = "__text__"
GIFT_KINDS = ("none", "points", "coupon")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\.DATA\s*\}\}")
_SEPARATORS = re.compile(r"[\s,，、;；]+")
_DIGITS = re.compile(r"^[0-9]{1,9}$")

DEFAULTS = {
    "name": "",
    "kind": ReminderKind.BIRTHDAY.value,
    "channel": Channel.MINIAPP_SUBSCRIBE.value,
    "template_id": "",
    "page": "",
    "send_time": "09:00",
    "days_before": "0",
    "gift_kind": "none",
    "gift_points": "",
    "gift_coupon": "",
    "enabled": "on",
    "keys": "",
}


def problem(code: str) -> str:
    """The text of a refusal on the reminder pages (their own wording first)."""
    return catalogue().get(f"reminders.errors.{code}") or error_text(code)


def parse_keys(text: str) -> list[str]:
    """The data keys in what the operator typed: names, or a template's `{{key.DATA}}` text."""
    found = _PLACEHOLDER.findall(text) if "{{" in text else _SEPARATORS.split(text)
    keys: list[str] = []
    for key in (part.strip() for part in found):
        if key and key not in keys:
            keys.append(key)
    return keys


@dataclass
class KeyRow:
    """One template data key and what it shows."""

    key: str
    source: str = ""  # a catalogue field, TEXT_SOURCE, or "" (not chosen yet)
    text: str = ""
    truncate: bool = False
    klass: str = "unknown"  # WeChat's value class of the key
    truncatable: bool = False  # the chosen field may be cut to the key's length
    error: str | None = None


@dataclass
class RuleForm:
    """The form as typed, its key rows, and the refusals to show beside fields and keys."""

    values: dict[str, str]
    rows: list[KeyRow]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> ReminderKind | None:
        try:
            return ReminderKind(self.values["kind"])
        except ValueError:
            return None

    @property
    def channel(self) -> Channel | None:
        try:
            return Channel(self.values["channel"])
        except ValueError:
            return None

    @property
    def has_gift(self) -> bool:
        return self.kind is ReminderKind.BIRTHDAY and self.values["gift_kind"] in GIFT_KINDS[1:]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.error for row in self.rows)

    def fields(self) -> list[FieldSpec]:
        """The catalogue fields a message of this kind can show."""
        kind = self.kind
        return [spec for spec in CATALOGUE.values() if kind is not None and kind in spec.kinds]


def blank() -> RuleForm:
    return RuleForm(dict(DEFAULTS), [])


def from_form(form: Mapping[str, str]) -> RuleForm:
    """The form as posted (a checkbox left unticked is absent)."""
    values = {name: form.get(name, "").strip() for name in DEFAULTS}
    values["enabled"] = "on" if form.get("enabled") else ""
    keys = parse_keys(values["keys"])
    rows = [
        KeyRow(
            key,
            source=form.get(f"map_{key}", ""),
            text=form.get(f"text_{key}", ""),
            truncate=bool(form.get(f"cut_{key}")),
        )
        for key in keys
    ]
    return RuleForm(values, rows)


def from_rule(rule: ReminderRule) -> RuleForm:
    """The form of a saved rule."""
    view = rule_view(rule)
    gift = view["gift"] or {}
    values = {
        "name": view["name"],
        "kind": view["kind"],
        "channel": view["channel"],
        "template_id": view["template_id"],
        "page": view["page"] or "",
        "send_time": view["send_time"],
        "days_before": str(view["days_before"]),
        "gift_kind": "points" if "points" in gift else "coupon" if gift else "none",
        "gift_points": str(gift.get("points", "")),
        "gift_coupon": str(gift.get("coupon_template_id", "")),
        "enabled": "on" if view["enabled"] else "",
        "keys": " ".join(view["mapping"]),
    }
    rows = []
    for key, entry in view["mapping"].items():
        if "text" in entry:
            rows.append(KeyRow(key, source=TEXT_SOURCE, text=str(entry["text"])))
        else:
            rows.append(KeyRow(key, source=entry["field"], truncate=bool(entry.get("truncate"))))
    return RuleForm(values, rows)


def check_keys(form: RuleForm, *, submitted: bool) -> None:
    """Check every key on its own; a key left unchosen is refused only once the rule is saved."""
    keys = parse_keys(form.values["keys"])
    if len(keys) > MAX_KEYS:
        form.errors["keys"] = translate("reminders.mapping_errors.too_many_keys", limit=MAX_KEYS)
    elif not keys and submitted:
        form.errors["keys"] = translate("reminders.mapping_errors.no_keys")
    kind, channel = form.kind, form.channel
    if kind is None or channel is None:
        return
    for row in form.rows:
        row.error = _check_row(row, kind, channel, form.has_gift, submitted)


def _check_row(
    row: KeyRow, kind: ReminderKind, channel: Channel, has_gift: bool, submitted: bool
) -> str | None:
    try:
        row.klass = key_type(row.key, channel)
    except ValidationFailed:
        row.klass = "unknown"
        return translate("reminders.mapping_errors.invalid_mapping_key", data_key=row.key)
    spec = CATALOGUE.get(row.source)
    limit = KEY_LIMITS.get(row.klass)
    row.truncatable = (
        spec is not None
        and spec.renders in TRUNCATABLE
        and limit is not None
        and spec.max_length > limit
    )
    if not row.source:
        return (
            translate("reminders.mapping_errors.missing", data_key=row.key) if submitted else None
        )
    entry: dict[str, Any]
    if row.source == TEXT_SOURCE:
        if not row.text.strip():
            if submitted:
                return translate("reminders.mapping_errors.missing_text", data_key=row.key)
            return None
        entry = {"text": clean_text(row.text)}
    else:
        entry = {"field": row.source, "truncate": row.truncate and row.truncatable}
    try:
        check_mapping({row.key: entry}, kind, channel, has_gift=has_gift)
    except ValidationFailed as exc:
        return explain(exc.code, row, kind)
    return None


def explain(code: str, row: KeyRow, kind: ReminderKind) -> str:
    """Why WeChat would refuse what a key shows, in the operator's words."""
    spec = CATALOGUE.get(row.source)
    texts = catalogue()
    values: dict[str, Any] = {
        "data_key": row.key,
        "klass": texts.get(f"reminders.value_classes.{row.klass}", row.klass),
        "klass_name": row.klass,
        "field": field_label(row.source),
        "kind": translate(f"reminders.kinds.{kind.value}"),
        "length": spec.max_length if spec is not None else 0,
        "limit": KEY_LIMITS.get(row.klass, 0),
    }
    if code == "value_too_long" and not row.truncatable:
        code = "value_too_long_fixed"
    if f"reminders.mapping_errors.{code}" in texts:
        return translate(f"reminders.mapping_errors.{code}", **values)
    return problem(code)


def field_label(name: str) -> str:
    """A catalogue field as operators read it."""
    return catalogue().get(f"reminders.fields.{name}", name)


def _number(raw: str) -> int | str:
    """A whole number as typed; anything else stays text for the rule's own check to refuse."""
    return int(raw) if _DIGITS.match(raw) else raw


def rule_input(form: RuleForm) -> dict[str, Any]:
    """The rule as `RuleCreate` reads it (for a change, `RulePatch` without the kind)."""
    values = form.values
    gift: dict[str, Any] | None = None
    if form.has_gift and values["gift_kind"] == "points":
        gift = {"points": _number(values["gift_points"])}
    elif form.has_gift and values["gift_kind"] == "coupon":
        gift = {"coupon_template_id": _number(values["gift_coupon"])}
    mapping: dict[str, Any] = {}
    for row in form.rows:
        if row.source == TEXT_SOURCE:
            mapping[row.key] = {"text": row.text.strip()}
        else:
            mapping[row.key] = {"field": row.source, "truncate": row.truncate and row.truncatable}
    return {
        "name": values["name"],
        "kind": values["kind"],
        "channel": values["channel"],
        "template_id": values["template_id"],
        "page": values["page"] or None,
        "send_time": values["send_time"],
        "days_before": _number(values["days_before"]),
        "gift": gift,
        "enabled": values["enabled"] == "on",
        "mapping": mapping,
    }


_FIELD_OF_CODE = {
    "page_required": "page",
    "invalid_days_before": "days_before",
    "gift_not_allowed": "gift",
    "invalid_gift": "gift",
    "invalid_gift_coupon_template": "gift",
}


def place_error(form: RuleForm, exc: DomainError) -> None:
    """Put a refusal of the rule beside the field or the key it concerns."""
    key = exc.details.get("key")
    row = next((row for row in form.rows if row.key == key), None)
    if row is not None and form.kind is not None:
        row.error = explain(exc.code, row, form.kind)
        return
    named = str(exc.details.get("field", "")).split(".")[0]
    where = _FIELD_OF_CODE.get(exc.code) or named or "form"
    if where == "mapping":
        where = "keys"
    form.errors[where if where in DEFAULTS or where == "gift" else "form"] = problem(exc.code)
