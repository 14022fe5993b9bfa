"""A template mapping in a console form, edited key by key (reminder rules and campaigns).

The operator lists the template's data keys (`name1 date2 thing3`, or pastes the template's
`{{thing1.DATA}}` text), then picks for each key a catalogue field or a fixed text. Each key is
checked on its own by the capability's own mapping check, so every refusal is shown next to the
key it concerns, live (htmx, on every change) and again when the form is saved; the texts are
the capability's (`<prefix>.mapping_errors.*`, `<prefix>.fields.*`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from console.i18n import catalogue, translate
from handlers.messaging.templates import KEY_LIMITS, MAX_KEYS, TRUNCATABLE, FieldSpec, key_type
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import clean_text
from wxmember.core.models.reminders import Channel

TEXT_SOURCE = "__text__"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\.DATA\s*\}\}")
_SEPARATORS = re.compile(r"[\s,，、;；]+")

CheckEntry = Callable[[dict[str, dict[str, Any]]], object]
"""The capability's check of a mapping of one key; raises ValidationFailed."""


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


def rows_from_form(form: Mapping[str, str], keys_text: str) -> list[KeyRow]:
    """The key rows as posted (a checkbox left unticked is absent)."""
    return [
        KeyRow(
            key,
            source=form.get(f"map_{key}", ""),
            text=form.get(f"text_{key}", ""),
            truncate=bool(form.get(f"cut_{key}")),
        )
        for key in parse_keys(keys_text)
    ]


def rows_from_mapping(mapping: Mapping[str, Mapping[str, Any]]) -> list[KeyRow]:
    """The key rows of a saved mapping."""
    rows = []
    for key, entry in mapping.items():
        if "text" in entry:
            rows.append(KeyRow(key, source=TEXT_SOURCE, text=str(entry["text"])))
        else:
            rows.append(KeyRow(key, source=entry["field"], truncate=bool(entry.get("truncate"))))
    return rows


def mapping_of(rows: list[KeyRow]) -> dict[str, dict[str, Any]]:
    """The rows as the mapping the capability stores."""
    mapping: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.source == TEXT_SOURCE:
            mapping[row.key] = {"text": row.text.strip()}
        else:
            mapping[row.key] = {"field": row.source, "truncate": row.truncate and row.truncatable}
    return mapping


@dataclass(frozen=True)
class MappingEditor:
    """The key-by-key editor of one capability: its texts' prefix, its field catalogue, and
    the wording of its other refusals."""

    prefix: str
    fields: Mapping[str, FieldSpec]
    problem: Callable[[str], str]

    def field_label(self, name: str) -> str:
        """A catalogue field as operators read it."""
        return catalogue().get(f"{self.prefix}.fields.{name}", name)

    def check(
        self,
        rows: list[KeyRow],
        keys_text: str,
        channel: Channel | None,
        errors: dict[str, str],
        check_entry: CheckEntry,
        *,
        submitted: bool,
        **words: Any,
    ) -> None:
        """Check the number of keys, then (with a channel) every key on its own; a key left
        unchosen is refused only once the form is saved. `words` fill the refusals' texts."""
        keys = parse_keys(keys_text)
        if len(keys) > MAX_KEYS:
            errors["keys"] = translate(
                f"{self.prefix}.mapping_errors.too_many_keys", limit=MAX_KEYS
            )
        elif not keys and submitted:
            errors["keys"] = translate(f"{self.prefix}.mapping_errors.no_keys")
        if channel is None:
            return
        for row in rows:
            row.error = self._check_row(row, channel, check_entry, submitted, words)

    def _check_row(
        self,
        row: KeyRow,
        channel: Channel,
        check_entry: CheckEntry,
        submitted: bool,
        words: dict[str, Any],
    ) -> str | None:
        mapping_errors = f"{self.prefix}.mapping_errors"
        try:
            row.klass = key_type(row.key, channel)
        except ValidationFailed:
            row.klass = "unknown"
            return translate(f"{mapping_errors}.invalid_mapping_key", data_key=row.key)
        spec = self.fields.get(row.source)
        limit = KEY_LIMITS.get(row.klass)
        row.truncatable = (
            spec is not None
            and spec.renders in TRUNCATABLE
            and limit is not None
            and spec.max_length > limit
        )
        if not row.source:
            return translate(f"{mapping_errors}.missing", data_key=row.key) if submitted else None
        entry: dict[str, Any]
        if row.source == TEXT_SOURCE:
            if not row.text.strip():
                if submitted:
                    return translate(f"{mapping_errors}.missing_text", data_key=row.key)
                return None
            try:
                entry = {"text": clean_text(row.text)}
            except ValueError:
                return self.explain("invalid_text", row, **words)
        else:
            entry = {"field": row.source, "truncate": row.truncate and row.truncatable}
        try:
            check_entry({row.key: entry})
        except ValidationFailed as exc:
            return self.explain(exc.code, row, **words)
        return None

    def explain(self, code: str, row: KeyRow, **words: Any) -> str:
        """Why WeChat (or the capability) would refuse what a key shows, in operators' words."""
        spec = self.fields.get(row.source)
        texts = catalogue()
        values: dict[str, Any] = {
            "data_key": row.key,
            "klass": texts.get(f"reminders.value_classes.{row.klass}", row.klass),
            "klass_name": row.klass,
            "field": self.field_label(row.source),
            "length": spec.max_length if spec is not None else 0,
            "limit": KEY_LIMITS.get(row.klass, 0),
            **words,
        }
        if code == "value_too_long" and not row.truncatable:
            code = "value_too_long_fixed"
        if f"{self.prefix}.mapping_errors.{code}" in texts:
            return translate(f"{self.prefix}.mapping_errors.{code}", **values)
        return self.problem(code)
