"""The console's texts: one catalogue per language, a TOML file per area of the console.

`console/locale/zh_CN/members.toml` holds the keys `members.*`; a template asks `t("members.
search.label")`. The texts of refusals, by error code, are `errors.<code>`, from `errors.toml`
and the `errors_<area>.toml` files beside it. Every text the console shows is in the catalogue,
so adding a language is adding a folder. A key missing from the catalogue is an error (a test
reads every template)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "zh_CN"


def _flatten(prefix: str, table: Mapping[str, Any], into: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            _flatten(name, value, into)
        else:
            into[name] = str(value)


@cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every text of a language, by dotted key."""
    texts: dict[str, str] = {}
    for path in sorted((LOCALES / language).glob("*.toml")):
        # errors*.toml (errors.toml, errors_members.toml, ...) all hold `errors.<code>` texts
        prefix = "errors" if path.stem.startswith("errors") else path.stem
        _flatten(prefix, tomllib.loads(path.read_text(encoding="utf-8")), texts)
    return texts


def translate(key: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    """The text of a key, with `{name}` placeholders filled from `values`."""
    text = catalogue(language)[key]
    return text.format(**values) if values else text


def error_text(code: str, message: str | None = None, language: str = DEFAULT_LANGUAGE) -> str:
    """What staff read for a refusal: the catalogue's text for its code, else its own message."""
    texts = catalogue(language)
    return texts.get(f"errors.{code}") or message or texts["errors.generic"]
