"""A declared header's rule: what it accepts, what it refuses, what the document says."""

from __future__ import annotations

import re

import pytest

from handlers.mall.redemption import IDEMPOTENCY_KEY
from wxmember.core.errors import ValidationFailed
from wxmember.core.headers import STAFF_IDEMPOTENCY_KEY, Header


@pytest.mark.parametrize(
    "raw", [None, "", "short", "x" * 65, "has space1", "ключ-ключ", "a.b:c-d-e"]
)
def test_a_redemption_key_outside_its_rule_is_refused(raw: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        IDEMPOTENCY_KEY.read(raw)
    assert refused.value.code == "idempotency_key_required"


@pytest.mark.parametrize("raw", ["abcdefgh", "0f8e-4c2a_9b", "x" * 64])
def test_a_redemption_key_inside_its_rule_is_read(raw: str) -> None:
    assert IDEMPOTENCY_KEY.read(raw) == raw


def test_a_staff_key_is_optional_but_checked_when_sent() -> None:
    assert STAFF_IDEMPOTENCY_KEY.read(None) is None
    assert STAFF_IDEMPOTENCY_KEY.read("fix:2026-11.1") == "fix:2026-11.1"
    with pytest.raises(ValidationFailed) as refused:
        STAFF_IDEMPOTENCY_KEY.read("no spaces please")
    assert refused.value.code == "invalid_idempotency_key"


@pytest.mark.parametrize("header", [IDEMPOTENCY_KEY, STAFF_IDEMPOTENCY_KEY])
def test_the_published_schema_is_the_rule_that_is_checked(header: Header) -> None:
    schema = header.schema()
    pattern = re.compile(str(schema["pattern"]))
    assert isinstance(schema["minLength"], int) and isinstance(schema["maxLength"], int)
    for raw in ["abcdefgh", "a", "x" * 64, "x" * 65, "a b c d e f", "a.b:c-d-e"]:
        published = bool(pattern.fullmatch(raw)) and int(schema["minLength"]) <= len(raw) <= int(
            schema["maxLength"]
        )
        try:
            header.read(raw)
            checked = True
        except ValidationFailed:
            checked = False
        assert published == checked, raw
