"""The campaign form: what the operator typed, read into a draft for handlers/campaigns.

A campaign's message mapping is edited key by key (console/mapping_editor.py), with the
campaign's field catalogue (`handlers.campaigns.message`), each key checked by the handlers'
`check_message`. Saving goes through `create_campaign` / `update_campaign`, which check the
whole draft once more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.i18n import catalogue, error_text
from console.mapping_editor import (
    KeyRow,
    MappingEditor,
    mapping_of,
    rows_from_form,
    rows_from_mapping,
)
from handlers.campaigns.definitions import MAX_HOLDOUT_PERCENT, MAX_POINTS, campaign_view
from handlers.campaigns.message import CATALOGUE, check_message, fields_view
from wxmember.core.errors import DomainError
from wxmember.core.models.campaigns import Campaign
from wxmember.core.models.reminders import Channel

DEFAULTS = {
    "name": "",
    "description": "",
    "segment_id": "",
    "coupon_template_id": "",
    "points": "",
    "channel": "",
    "template_id": "",
    "page": "",
    "keys": "",
    "holdout_percent": "10",
}


def problem(code: str) -> str:
    """The text of a refusal on the campaign pages (their own wording first)."""
    return catalogue().get(f"campaigns.errors.{code}") or error_text(code)


EDITOR = MappingEditor("campaigns", CATALOGUE, problem)
field_label = EDITOR.field_label
explain = EDITOR.explain


@dataclass
class CampaignForm:
    """The form as typed, its key rows, and the refusals to show beside fields and keys."""

    values: dict[str, str]
    rows: list[KeyRow]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def channel(self) -> Channel | None:
        try:
            return Channel(self.values["channel"])
        except ValueError:
            return None

    @property
    def gives_coupon(self) -> bool:
        return bool(self.values["coupon_template_id"])

    @property
    def gives_points(self) -> bool:
        return bool(self.values["points"])

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.error for row in self.rows)

    def fields(self) -> list[dict[str, Any]]:
        """The campaign's catalogue fields, each with the gift it needs (if any)."""
        return fields_view()


def blank() -> CampaignForm:
    return CampaignForm(dict(DEFAULTS), [])


def from_form(form: Mapping[str, str]) -> CampaignForm:
    """The form as posted."""
    values = {name: form.get(name, "").strip() for name in DEFAULTS}
    return CampaignForm(values, rows_from_form(form, values["keys"]))


def from_campaign(campaign: Campaign) -> CampaignForm:
    """The form of a saved draft."""
    view = campaign_view(campaign)
    mapping: dict[str, Any] = view["mapping"] or {}
    values = {
        "name": view["name"],
        "description": view["description"],
        "segment_id": str(view["segment_id"] or ""),
        "coupon_template_id": str(view["coupon_template_id"] or ""),
        "points": str(view["points"] or ""),
        "channel": view["channel"] or "",
        "template_id": view["template_id"] or "",
        "page": view["page"] or "",
        "keys": " ".join(mapping),
        "holdout_percent": str(view["holdout_percent"]),
    }
    return CampaignForm(values, rows_from_mapping(mapping))


def check_keys(form: CampaignForm, *, submitted: bool) -> None:
    """Check every key on its own; a key left unchosen is refused only once the draft is saved."""
    channel = form.channel
    if channel is None:
        return  # no message: no keys

    def check(entry: dict[str, dict[str, Any]]) -> object:
        assert channel is not None
        gives = {"gives_coupon": form.gives_coupon, "gives_points": form.gives_points}
        return check_message(entry, channel, **gives)

    EDITOR.check(form.rows, form.values["keys"], channel, form.errors, check, submitted=submitted)


def _number(raw: str) -> int | str | None:
    """A whole number as typed (None when empty); anything else stays text for the draft's own
    check to refuse."""
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else raw


def read_numbers(form: CampaignForm) -> None:
    """Refuse beside their fields the numbers out of range (before the draft is checked)."""
    bounds = {
        "points": (1, MAX_POINTS),
        "holdout_percent": (0, MAX_HOLDOUT_PERCENT),
    }
    for name, (low, high) in bounds.items():
        raw = form.values[name]
        value = _number(raw)
        if name == "holdout_percent" and value is None:
            form.errors[name] = problem("invalid_holdout_percent")
        elif value is not None and not (isinstance(value, int) and low <= value <= high):
            form.errors[name] = problem(f"invalid_{name}")


def campaign_input(form: CampaignForm) -> dict[str, Any]:
    """The draft as `CampaignCreate` (and `CampaignPatch`) read it."""
    values = form.values
    channel = values["channel"] or None
    mapping = mapping_of(form.rows) if channel is not None else None
    return {
        "name": values["name"],
        "description": values["description"],
        "segment_id": _number(values["segment_id"]),
        "coupon_template_id": _number(values["coupon_template_id"]),
        "points": _number(values["points"]),
        "channel": channel,
        "template_id": (values["template_id"] or None) if channel else None,
        "mapping": mapping,
        "page": (values["page"] or None) if channel else None,
        "holdout_percent": _number(values["holdout_percent"]),
    }


# Where a refusal of the whole draft is shown, by its code.
_FIELD_OF_CODE = {
    "no_action": "actions",
    "incomplete_message": "template_id",
    "page_required": "page",
    "invalid_coupon_template": "coupon_template_id",
    "segment_not_found": "segment_id",
    "invalid_segment_id": "segment_id",
}


def place_error(form: CampaignForm, exc: DomainError) -> None:
    """Put a refusal of the draft beside the field or the key it concerns."""
    key = exc.details.get("key")
    row = next((row for row in form.rows if row.key == key), None)
    if row is not None:
        row.error = explain(exc.code, row)
        return
    named = str(exc.details.get("field", "")).split(".")[0]
    where = _FIELD_OF_CODE.get(exc.code) or named or "form"
    if where == "mapping":
        where = "keys"
    if where not in DEFAULTS and where != "actions":
        where = "form"
    form.errors[where] = problem(exc.code)
