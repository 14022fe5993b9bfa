"""The import file's columns and each row's checks: line numbers and reasons."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.member_import.reading import rows_of
from handlers.member_import.rows import ImportRow, RowProblem, columns_of, judge
from tests.member_import.kit import HEADER, card, phone, row
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import Tier

TODAY = date(2025, 6, 15)
LADDER = [Tier(id=1, name="普通会员", level=0), Tier(id=2, name="金卡会员", level=2)]
COLUMNS = columns_of(HEADER.split(","))


def judged(text: str, line: int = 2) -> ImportRow | RowProblem:
    return judge(line, text.split(","), COLUMNS, LADDER, TODAY)


class TestColumns:
    def test_columns_are_found_by_english_or_chinese_headings_in_any_order(self) -> None:
        assert columns_of(["Phone", "x", "card_no", "姓名"]) == {
            "phone": 0,
            "card_no": 2,
            "name": 3,
        }

    def test_a_header_without_a_phone_column_is_400_import_columns_missing(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            columns_of(["card_no", "name"])
        assert refused.value.code == "import_columns_missing"


class TestJudge:
    def test_a_good_row_becomes_the_member_it_describes(self) -> None:
        result = judged(row(1, tier="金卡会员", points_expire_on="2026/01/31"))
        assert isinstance(result, ImportRow)
        assert (result.card_no, result.phone, result.name) == (card(1), phone(1), "会员1")
        assert (result.tier.name, result.points, result.points_expire_on) == (
            "金卡会员",
            120,
            date(2026, 1, 31),
        )
        assert (result.growth_total, result.period_growth, result.store) == (300, 100, "SH001")
        assert result.opened_on == date(2020, 3, 1)

    def test_optional_cells_may_be_blank(self) -> None:
        result = judged(f",{phone(1)},,,,,,,,,")
        assert isinstance(result, ImportRow)
        assert (result.card_no, result.name, result.tier.level, result.points) == (
            None,
            None,
            0,
            0,
        )

    def test_the_tier_may_be_given_by_its_level(self) -> None:
        result = judged(row(1, tier="2"))
        assert isinstance(result, ImportRow) and result.tier.name == "金卡会员"

    def test_phones_are_normalised(self) -> None:
        for given, kept in (
            ("+86 139-0000-0001", "13900000001"),
            ("0085291234567", "+85291234567"),
        ):
            result = judged(row(1, phone=given))
            assert isinstance(result, ImportRow) and result.phone == kept

    def test_same_values_give_the_same_fingerprint_and_others_another(self) -> None:
        first, again, other = judged(row(1)), judged(row(1), 9), judged(row(1, points=121))
        assert isinstance(first, ImportRow) and isinstance(again, ImportRow)
        assert isinstance(other, ImportRow)
        assert first.fingerprint == again.fingerprint != other.fingerprint

    @pytest.mark.parametrize(
        ("values", "problem"),
        [
            ({"card_no": "12345"}, "invalid_card_no"),
            ({"card_no": card(1)[:15] + str((int(card(1)[15]) + 1) % 10)}, "invalid_card_no"),
            ({"phone": ""}, "invalid_phone"),
            ({"phone": "1390000"}, "invalid_phone"),
            ({"name": "x" * 33}, "invalid_name"),
            ({"birthday": "17/05/1990"}, "invalid_birthday"),
            ({"birthday": "2030-01-01"}, "invalid_birthday"),
            ({"tier": "铂金"}, "unknown_tier"),
            ({"points": "-5"}, "invalid_points"),
            ({"points": "12.5"}, "invalid_points"),
            ({"points_expire_on": "2025-06-14"}, "invalid_points_expiry"),
            ({"growth_total": "abc"}, "invalid_growth"),
            ({"growth_total": 10, "period_growth": 20}, "invalid_growth"),
            ({"store": "S" * 33}, "invalid_store"),
            ({"opened_on": "2025-07-01"}, "invalid_opened_on"),
        ],
    )
    def test_a_bad_cell_refuses_the_row_with_its_line_and_reason(
        self, values: dict[str, object], problem: str
    ) -> None:
        result = judged(row(1, **values), line=7)
        assert isinstance(result, RowProblem)
        assert (result.line, result.problem) == (7, problem)


class TestRowsOf:
    def test_blank_lines_are_skipped_and_line_numbers_kept(self) -> None:
        lines = f"{HEADER}\r\n\r\n{row(1)}\r\n,,,\r\n{row(2)}\r\n".splitlines(keepends=True)
        assert [line for line, _ in rows_of(lines)] == [1, 3, 5]
