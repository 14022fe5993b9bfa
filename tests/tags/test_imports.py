"""Bulk tagging from a CSV of card numbers: every row judged on its own, applied in batches,
idempotent, kept with its report and audited once."""

from __future__ import annotations

import csv
import io

import pytest

from handlers.members.numbers import luhn_check_digit
from handlers.tags import imports
from handlers.tags.imports import apply_file, decode, parse, problems_csv
from handlers.tags.members import tag_member
from tests.tags.kit import a_tag, carded_member, csv_of, staff
from wxmember.core.errors import CsvTooLarge, TagNotFound, ValidationFailed
from wxmember.core.models import AuditEntry
from wxmember.core.models.tags import ImportAction, MemberTag, TagImport

pytestmark = pytest.mark.usefixtures("client")

GOOD = "8123456789012345"[:15]
GOOD += luhn_check_digit(GOOD)
WRONG_DIGIT = GOOD[:15] + str((int(GOOD[15]) + 1) % 10)


class TestParse:
    def test_one_number_per_line_without_a_header(self) -> None:
        parsed = parse(csv_of(GOOD))
        assert parsed.numbers == [(1, GOOD)]
        assert parsed.rows == 1

    @pytest.mark.parametrize("header", ["card_no", "卡号", "会员卡号", "Card Number", "member"])
    def test_a_header_row_is_optional(self, header: str) -> None:
        assert parse(csv_of(header, GOOD)).numbers == [(2, GOOD)]

    def test_the_card_number_column_is_found_by_its_heading(self) -> None:
        parsed = parse(csv_of("name,卡号,note", f"张三,{GOOD},x"))
        assert parsed.numbers == [(2, GOOD)]

    def test_a_byte_order_mark_blank_lines_and_spaces_in_numbers_are_fine(self) -> None:
        spaced = " ".join(GOOD[i : i + 4] for i in range(0, 16, 4))
        parsed = parse("\ufeffcard_no\n\n" + spaced + "\n  \n,\n")
        assert parsed.numbers == [(3, GOOD)]
        assert parsed.rows == 1

    def test_bytes_are_read_as_utf8_with_a_bom_or_gb18030(self) -> None:
        assert decode(("\ufeff卡号\n" + GOOD).encode()).startswith("卡号")
        assert decode(("卡号\n" + GOOD).encode("gb18030")).startswith("卡号")
        with pytest.raises(ValidationFailed) as refused:
            decode(b"\xff\xfe\x00\x81\x00")
        assert refused.value.code == "csv_unreadable"

    def test_a_spreadsheet_saved_in_its_own_format_is_400_csv_unreadable(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            parse(decode(b"PK\x03\x04\x14\x00\x06\x00\x08\x00"))
        assert refused.value.code == "csv_unreadable"

    def test_each_bad_row_is_reported_by_line_and_the_rest_kept(self) -> None:
        parsed = parse(csv_of("card_no", GOOD, "12345", WRONG_DIGIT, "8.12346E+15", GOOD, "0" * 16))
        assert parsed.numbers == [(2, GOOD)]
        assert [(row["line"], row["problem"]) for row in parsed.problems] == [
            (3, "invalid"),
            (4, "check_digit"),
            (5, "invalid"),
            (6, "duplicate"),
            (7, "invalid"),
        ]
        assert parsed.problems[3]["first_line"] == 2
        assert parsed.rows == 6

    def test_a_file_without_numbers_is_400_csv_empty(self) -> None:
        for text in ("", "card_no\n", "\n\n"):
            with pytest.raises(ValidationFailed) as refused:
                parse(text)
            assert refused.value.code == "csv_empty"

    def test_more_rows_than_allowed_is_413_csv_too_large(self) -> None:
        with pytest.raises(CsvTooLarge) as refused:
            parse(csv_of(*[GOOD] * (imports.MAX_ROWS + 1)))
        assert (refused.value.status, refused.value.code) == (413, "csv_too_large")

    def test_more_text_than_allowed_is_413_csv_too_large(self) -> None:
        with pytest.raises(CsvTooLarge):
            parse("x" * (imports.MAX_CHARS + 1))


class TestApplyFile:
    async def test_tags_known_members_and_reports_the_rest(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        members = [await carded_member() for _ in range(3)]
        await tag_member(olga, members[0].id, tag.id)
        unknown = "6" + "0" * 14
        unknown += luhn_check_digit(unknown)
        text = csv_of(
            "卡号",
            *(member.card_no or "" for member in members),
            unknown,
            "abc",
            members[1].card_no or "",
        )
        record = await apply_file(olga, tag.id, text, filename="春季名单.csv")
        assert (record.rows, record.changed, record.unchanged) == (6, 2, 1)
        assert (record.unknown, record.invalid, record.duplicates) == (1, 1, 1)
        assert [(row["line"], row["problem"]) for row in record.problems] == [
            (5, "unknown"),
            (6, "invalid"),
            (7, "duplicate"),
        ]
        assert await MemberTag.filter(tag_id=tag.id).count() == 3
        entry = await AuditEntry.get(action="tag.import")
        assert entry.target_id == str(tag.id)
        assert entry.after is not None
        assert entry.after | {} == {
            "import_id": record.id,
            "action": "add",
            "filename": "春季名单.csv",
            "rows": 6,
            "changed": 2,
            "unchanged": 1,
            "unknown": 1,
            "invalid": 1,
            "duplicates": 1,
        }

    async def test_uploading_the_same_file_again_changes_nothing(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        members = [await carded_member() for _ in range(4)]
        text = csv_of(*(member.card_no or "" for member in members))
        first = await apply_file(olga, tag.id, text)
        before = list(await MemberTag.all().order_by("id").values_list("id", "tagged_at"))
        again = await apply_file(olga, tag.id, text)
        assert (first.changed, again.changed, again.unchanged) == (4, 0, 4)
        assert list(await MemberTag.all().order_by("id").values_list("id", "tagged_at")) == before

    async def test_files_larger_than_a_batch_are_applied_in_batches(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(imports, "BATCH", 2)
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        members = [await carded_member() for _ in range(5)]
        record = await apply_file(olga, tag.id, csv_of(*(m.card_no or "" for m in members)))
        assert record.changed == 5
        assert await MemberTag.filter(tag_id=tag.id).count() == 5

    async def test_untagging_from_a_file(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        members = [await carded_member() for _ in range(3)]
        for member in members[:2]:
            await tag_member(olga, member.id, tag.id)
        record = await apply_file(
            olga,
            tag.id,
            csv_of(*(member.card_no or "" for member in members)),
            action=ImportAction.REMOVE,
        )
        assert (record.changed, record.unchanged) == (2, 1)
        assert not await MemberTag.exists()
        entry = await AuditEntry.get(action="tag.import")
        assert entry.after is not None and entry.after["action"] == "remove"

    async def test_deleted_members_count_as_unknown(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        member.deleted_at = member.created_at
        await member.save(update_fields=["deleted_at"])
        record = await apply_file(olga, tag.id, csv_of(member.card_no or ""))
        assert (record.changed, record.unknown) == (0, 1)

    async def test_a_refused_file_writes_nothing(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        text = csv_of(*[member.card_no or ""] * (imports.MAX_ROWS + 1))
        with pytest.raises(CsvTooLarge):
            await apply_file(olga, tag.id, text)
        assert not await MemberTag.exists()
        assert not await TagImport.exists()
        assert not await AuditEntry.filter(action="tag.import").exists()

    async def test_an_unknown_tag_is_404(self) -> None:
        with pytest.raises(TagNotFound):
            await apply_file(await staff(), 404, csv_of(GOOD))


class TestProblemsReport:
    async def test_the_refused_rows_as_csv_with_a_bom(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        record = await apply_file(olga, tag.id, csv_of(GOOD, "12", GOOD))
        text = problems_csv(record)
        assert text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        assert rows == [
            ["line", "card_no", "problem", "first_line"],
            ["1", GOOD, "unknown", ""],
            ["2", "12", "invalid", ""],
            ["3", GOOD, "duplicate", "1"],
        ]
