"""The reminder rule form: what the operator typed, read into a rule for handlers/reminders.

A rule's template mapping is edited key by key (console/mapping_editor.py), each key checked
by the handlers' own `check_mapping`. Saving goes through `create_rule` / `update_rule`, which
check the whole rule once more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.i18n import catalogue, error_text, translate
from console.mapping_editor import (
    KeyRow,
    MappingEditor,
    mapping_of,
    rows_from_form,
    rows_from_mapping,
)
from handlers.reminders.fields import CATALOGUE, FieldSpec, check_mapping
from handlers.reminders.rules import rule_view
from wxmember.core.errors import DomainError
from wxmember.core.models.reminders import Channel, ReminderKind, ReminderRule

GIFT_KINDS = ("none", "points", "coupon")
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


EDITOR = MappingEditor("reminders", CATALOGUE, problem)
field_label = EDITOR.field_label


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
    return RuleForm(values, rows_from_form(form, values["keys"]))


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
    return RuleForm(values, rows_from_mapping(view["mapping"]))


def check_keys(form: RuleForm, *, submitted: bool) -> None:
    """Check every key on its own; a key left unchosen is refused only once the rule is saved."""
    kind, channel = form.kind, form.channel

    def check(entry: dict[str, dict[str, Any]]) -> object:
        assert kind is not None and channel is not None
        return check_mapping(entry, kind, channel, has_gift=form.has_gift)

    words = {"kind": explain_kind(kind)} if kind is not None else {}
    usable = channel if kind is not None else None
    EDITOR.check(
        form.rows, form.values["keys"], usable, form.errors, check, submitted=submitted, **words
    )


def explain_kind(kind: ReminderKind) -> str:
    return translate(f"reminders.kinds.{kind.value}")


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
    mapping = mapping_of(form.rows)
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
        row.error = EDITOR.explain(exc.code, row, kind=explain_kind(form.kind))
        return
    named = str(exc.details.get("field", "")).split(".")[0]
    where = _FIELD_OF_CODE.get(exc.code) or named or "form"
    if where == "mapping":
        where = "keys"
    form.errors[where if where in DEFAULTS or where == "gift" else "form"] = problem(exc.code)
