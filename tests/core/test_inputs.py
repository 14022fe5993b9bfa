"""The input readers never raise anything but the domain's refusals, whatever they are given."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from wxmember.core.errors import DomainError, NotFound, Unauthorized, ValidationFailed
from wxmember.core.inputs import (
    INT64,
    MAX_DEPTH,
    MAX_ID,
    Body,
    Cursor,
    Id,
    IsoDate,
    Limit,
    Moment,
    Page,
    clean_text,
    encode_cursor,
    parse_json,
    path_id,
    validate,
)
from wxmember.core.security import TokenSigner

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Sample(Body):
    id: Id
    day: IsoDate | None = None
    moment: Moment | None = None


def path_request(raw: str) -> Any:
    request = make_mocked_request("GET", "/things/x")
    request._match_info = {"thing_id": raw}  # type: ignore[assignment]
    return request


class TestPathId:
    @PROPERTY
    @given(st.text(max_size=40))
    def test_any_text_is_an_id_or_404(self, raw: str) -> None:
        try:
            value = path_id(path_request(raw), "thing_id")
        except NotFound as exc:
            assert exc.code == "not_found"
        else:
            assert raw.isascii() and raw.isdigit() and 1 <= value + 1 and value <= MAX_ID
            assert str(value) == raw.lstrip("0") or value == 0

    @pytest.mark.parametrize(
        "raw", ["１２", "²", "٣", "1٣", "+1", " 1", "1 ", "1\n", "0x1", "2147483648"]
    )
    def test_only_ascii_digits_within_the_columns_name_a_record(self, raw: str) -> None:
        with pytest.raises(NotFound):
            path_id(path_request(raw), "thing_id")

    def test_plain_digits_are_the_id(self) -> None:
        assert path_id(path_request("42"), "thing_id") == 42
        assert path_id(path_request(str(MAX_ID)), "thing_id") == MAX_ID


class TestCursor:
    class Model(BaseModel):
        cursor: Cursor

    @PROPERTY
    @given(st.text(max_size=40))
    def test_any_text_is_a_cursor_or_400(self, raw: str) -> None:
        try:
            value = validate(self.Model, {"cursor": raw}).cursor
        except ValidationFailed as exc:
            assert exc.code == "invalid_cursor"
        else:
            assert 0 <= value <= INT64 and encode_cursor(value) == raw.lstrip("0") or value == 0

    @pytest.mark.parametrize("raw", ["1\n", "ff\n", " 1", "1 ", "FF", "0x1"])
    def test_only_the_whole_text_in_lower_case_hex_is_a_cursor(self, raw: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            validate(self.Model, {"cursor": raw})
        assert refused.value.code == "invalid_cursor"

    @PROPERTY
    @given(st.integers(min_value=0, max_value=INT64))
    def test_a_cursor_reads_back(self, last_id: int) -> None:
        assert validate(self.Model, {"cursor": encode_cursor(last_id)}).cursor == last_id


class TestBoundedTypes:
    @PROPERTY
    @given(
        st.dictionaries(
            st.sampled_from(["id", "day", "moment", "other"]),
            st.one_of(
                st.integers(),
                st.floats(allow_nan=True),
                st.text(max_size=30),
                st.dates().map(date.isoformat),
                st.datetimes().map(lambda d: d.isoformat() + "+14:00"),
                st.datetimes().map(lambda d: d.isoformat() + "-14:00"),
                st.none(),
                st.booleans(),
            ),
        )
    )
    def test_any_body_is_a_model_or_400(self, data: dict[str, Any]) -> None:
        try:
            sample = validate(Sample, data)
        except ValidationFailed:
            return
        assert 1 <= sample.id <= MAX_ID
        assert sample.day is None or date(1900, 1, 1) <= sample.day <= date(2199, 12, 31)
        assert sample.moment is None or sample.moment.utcoffset() is not None

    @PROPERTY
    @given(st.text(max_size=12))
    def test_any_query_limit_is_1_to_100_or_400(self, raw: str) -> None:
        class Query(BaseModel):
            limit: Limit

        try:
            value = validate(Query, {"limit": raw}).limit
        except ValidationFailed as exc:
            assert exc.code == "invalid_limit"
        else:
            assert 1 <= value <= 100 and raw.strip("-").isascii()

    def test_page_defaults(self) -> None:
        page = validate(Page, {})
        assert (page.cursor, page.limit) == (None, 20)

    @PROPERTY
    @given(st.text(max_size=60))
    def test_text_is_clean_or_refused(self, raw: str) -> None:
        try:
            cleaned = clean_text(raw)
        except ValueError:
            return
        assert cleaned == cleaned.strip()
        assert "\u202e" not in cleaned and "\x00" not in cleaned

    @pytest.mark.parametrize("raw", ["a\u202eb", "a\x00b", "a\u200bb", "a\x1bb", "a\u2028b"])
    def test_control_and_bidi_characters_are_refused(self, raw: str) -> None:
        with pytest.raises(ValueError):
            clean_text(raw)


class TestJson:
    @PROPERTY
    @given(st.binary(max_size=200))
    def test_any_bytes_are_json_or_400(self, raw: bytes) -> None:
        try:
            parse_json(raw)
        except ValidationFailed as exc:
            assert exc.code in {"invalid_json", "body_too_complex"}

    @PROPERTY
    @given(
        st.recursive(
            st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=5), children, max_size=4)
            ),
            max_leaves=50,
        )
    )
    def test_any_document_is_read_or_refused(self, document: Any) -> None:
        try:
            parsed = parse_json(json.dumps(document))
        except ValidationFailed as exc:
            assert exc.code == "body_too_complex"
        else:
            assert parsed == document

    @pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
    def test_deep_documents_are_refused(self, depth: int) -> None:
        with pytest.raises(ValidationFailed):
            parse_json("[" * depth + "]" * depth)

    @pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", '{"a": [NaN]}'])
    def test_numbers_json_does_not_have_are_refused(self, raw: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            parse_json(raw)
        assert refused.value.code == "invalid_json"

    def test_a_number_too_large_for_a_float_never_reaches_an_integer_field(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            validate(Sample, parse_json('{"id": 1e999}'))
        assert refused.value.code == "invalid_id"


class TestTokens:
    @PROPERTY
    @given(st.text(max_size=600))
    def test_any_text_is_a_token_or_401(self, raw: str) -> None:
        signer = TokenSigner("key")
        with pytest.raises(Unauthorized):
            signer.verify(raw, "member")

    def test_a_signed_token_verifies(self) -> None:
        signer = TokenSigner("key")
        claims = signer.verify(signer.sign("member", 7, 1, 60), "member")
        assert (claims.subject, claims.version) == (7, 1)


def test_refusals_are_domain_errors() -> None:
    assert issubclass(ValidationFailed, DomainError) and issubclass(NotFound, DomainError)
