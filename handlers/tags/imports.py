"""Bulk tagging from a CSV of card numbers: read row by row, applied in batches, reported.

The file: one card number per row, in the first column or in a column headed `card_no`
(also `卡号`, `会员卡号`, `card number`); a header row is optional (a first row without digits
is one), so is a UTF-8 byte-order mark (spreadsheets write one); GB18030 files are read too.
Spaces and dashes inside a number are ignored (`8123 4567 8901 2345`), blank lines skipped.

Every other row is judged on its own and reported by line, never failing the file:
`invalid` (not 16 digits), `check_digit` (16 digits whose Luhn check digit is wrong: a typo),
`duplicate` (a card number already on an earlier line), `unknown` (no live member has it).
At most `MAX_ROWS` rows and `MAX_CHARS` characters: beyond, 413 `csv_too_large` before
anything is written.

The numbers are applied in batches of `BATCH` rows, each batch one transaction: tagging
inserts with "do nothing on a taken key", untagging deletes, so uploading the same file again
changes nothing, and a file interrupted halfway is finished by uploading it again. The
outcome is kept (`TagImport`: counts and the refused rows, for the report) and audited as one
`tag.import` entry with the counts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import StringConstraints
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.members.numbers import CARD_NO_LENGTH, luhn_valid
from handlers.tags.members import find_tag
from wxmember.core.clock import Clock
from wxmember.core.errors import CsvTooLarge, TagImportNotFound, TagNotFound, ValidationFailed
from wxmember.core.inputs import Body, CleanText
from wxmember.core.kernel import continue_after, transaction
from wxmember.core.models import Member, Operator
from wxmember.core.models.tags import ImportAction, MemberTag, TagImport
from wxmember.core.prepared import db_moment, ids_in, placeholders

MAX_ROWS = 10_000
MAX_CHARS = 400_000
BATCH = 500
HEADER_NAMES = frozenset({"card_no", "card no", "cardno", "card number", "卡号", "会员卡号"})
PROBLEMS = ("invalid", "check_digit", "duplicate", "unknown")
_NOISE = re.compile(r"[\s\-]")
_DIGITS = re.compile(r"[0-9]")


class ImportBody(Body):
    """A CSV of card numbers as text, what to do with them, and the file's name if any."""

    csv: str  # its size is judged by `parse` (413 `csv_too_large`), the body's by the server
    action: ImportAction = ImportAction.ADD
    filename: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=200), CleanText
    ] = ""


@dataclass
class Parsed:
    """The rows of a file: the card numbers to apply (first line of each) and the problems."""

    numbers: list[tuple[int, str]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0

    def count(self, problem: str) -> int:
        return sum(1 for row in self.problems if row["problem"] == problem)


def decode(content: bytes) -> str:
    """An uploaded file's text: UTF-8 (with or without a byte-order mark), else GB18030."""
    if len(content) > MAX_CHARS * 4:
        raise CsvTooLarge()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("The file is not text.", code="csv_unreadable")


def parse(text: str) -> Parsed:
    """Judge every row of a CSV of card numbers (module docstring); 413 `csv_too_large`, 400
    `csv_unreadable` or `csv_empty` for the file as a whole."""
    if len(text) > MAX_CHARS:
        raise CsvTooLarge()
    text = text.removeprefix("\ufeff")
    if "\x00" in text:  # a spreadsheet's own format (xlsx), not text saved as CSV
        raise ValidationFailed("The file is not CSV.", code="csv_unreadable")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise ValidationFailed("The file is not CSV.", code="csv_unreadable") from None
    parsed = Parsed()
    column: int | None = None
    first_line: dict[str, int] = {}
    for line, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue  # a blank line
        if column is None:
            column, is_header = _header(cells)
            if is_header:
                continue
        parsed.rows += 1
        if parsed.rows > MAX_ROWS:
            raise CsvTooLarge(f"At most {MAX_ROWS} card numbers in one file.")
        value = cells[column] if len(cells) > column else ""
        number = _NOISE.sub("", value)
        problem = _judge(number)
        if problem is None and number in first_line:
            problem = "duplicate"
        if problem is not None:
            report: dict[str, Any] = {"line": line, "value": value[:64], "problem": problem}
            if problem == "duplicate":
                report["first_line"] = first_line[number]
            parsed.problems.append(report)
            continue
        first_line[number] = line
        parsed.numbers.append((line, number))
    if parsed.rows == 0:
        raise ValidationFailed("The file has no card numbers.", code="csv_empty")
    return parsed


def _header(cells: list[str]) -> tuple[int, bool]:
    """The card number's column, and whether this first row is a header."""
    names = [cell.lower() for cell in cells]
    for index, name in enumerate(names):
        if name in HEADER_NAMES:
            return index, True
    return 0, not _DIGITS.search(cells[0])


def _judge(number: str) -> str | None:
    if not (number.isascii() and number.isdigit()) or len(number) != CARD_NO_LENGTH:
        return "invalid"
    if number[0] == "0" or not luhn_valid(number):
        return "check_digit" if number[0] != "0" else "invalid"
    return None


async def apply_file(
    actor: Operator,
    tag_id: int,
    text: str,
    *,
    action: ImportAction = ImportAction.ADD,
    filename: str = "",
    clock: Clock | None = None,
) -> TagImport:
    """Tag (or untag) the members of a CSV of card numbers, batch by batch; the outcome kept
    and audited once. Re-applying a file changes nothing."""
    parsed = parse(text)
    tag = await find_tag(tag_id)
    problems = list(parsed.problems)
    changed = unchanged = 0
    for start in range(0, len(parsed.numbers), BATCH):
        batch = parsed.numbers[start : start + BATCH]
        async with transaction() as conn:
            found = dict(
                await Member.filter(card_no__in=[number for _, number in batch], deleted_at=None)
                .using_db(conn)
                .values_list("card_no", "id")
            )
            for line, number in batch:
                if number not in found:
                    problems.append({"line": line, "value": number, "problem": "unknown"})
            ids = [found[number] for _, number in batch if number in found]
            if action is ImportAction.ADD:
                done = await _add_links(conn, tag_id, ids, actor.id, clock or Clock())
            else:
                done = (
                    await MemberTag.filter(tag_id=tag_id, member_id__in=ids).using_db(conn).delete()
                )
        changed += done
        unchanged += len(ids) - done
    problems.sort(key=lambda row: row["line"])
    counts = {
        "rows": parsed.rows,
        "changed": changed,
        "unchanged": unchanged,
        "unknown": sum(1 for row in problems if row["problem"] == "unknown"),
        "invalid": parsed.count("invalid") + parsed.count("check_digit"),
        "duplicates": parsed.count("duplicate"),
    }
    try:
        async with transaction() as conn:
            record = await TagImport.create(
                tag_id=tag.id,
                tag_name=tag.name,
                action=action,
                filename=filename,
                operator=actor,
                actor=actor.username,
                problems=problems,
                using_db=conn,
                **counts,
            )
            await audit.record(
                actor,
                "tag.import",
                "tag",
                tag.id,
                after={"import_id": record.id, "action": action.value, "filename": filename}
                | counts,
                using_db=conn,
            )
    except IntegrityError:  # the tag was deleted meanwhile (and its links with it)
        raise TagNotFound() from None
    return record


_ADD_SQL = (
    'INSERT INTO "member_tags" ("member_id", "tag_id", "tagged_by_id", "tagged_at") '
    'SELECT "id", $2, $3, $4 FROM "members" WHERE "id" {ids} '
    'ON CONFLICT DO NOTHING RETURNING "id"'
)


async def _add_links(
    conn: BaseDBAsyncClient, tag_id: int, member_ids: Sequence[int], by: int, clock: Clock
) -> int:
    """Tag these members in one statement; how many did not carry the tag before."""
    if not member_ids:
        return 0
    fragment, ids = ids_in(conn, member_ids)
    sql = _ADD_SQL.format(ids=fragment)
    if conn.capabilities.dialect == "postgres":
        # PostgreSQL's INSERT answers Tortoise with its status only: count through a CTE.
        sql = f"WITH added AS ({sql}) SELECT count(*) FROM added"
    moment = db_moment(MemberTag, "tagged_at", clock.now())
    try:
        _, rows = await conn.execute_query(placeholders(conn, sql), [ids, tag_id, by, moment])
    except IntegrityError:  # the tag was deleted since it was read
        raise TagNotFound() from None
    if conn.capabilities.dialect == "postgres":
        return int(rows[0][0])
    return len(rows)


async def get_import(import_id: int) -> TagImport:
    """One bulk tagging's outcome; 404 `tag_import_not_found`."""
    record = await TagImport.get_or_none(id=import_id)
    if record is None:
        raise TagImportNotFound()
    return record


async def list_imports(tag_id: int | None, after_id: int | None, limit: int) -> list[TagImport]:
    """Bulk taggings newest first (of one tag, if given), `limit + 1` rows."""
    query = continue_after(TagImport.all().order_by("-id"), after_id)
    if tag_id is not None:
        query = query.filter(tag_id=tag_id)
    return await query.limit(limit + 1)


def import_view(record: TagImport) -> dict[str, Any]:
    """A bulk tagging's summary (the refused rows are in its report, `problems_csv`)."""
    return {
        "id": record.id,
        "tag_id": record.tag_id,
        "tag_name": record.tag_name,
        "action": ImportAction(record.action).value,
        "filename": record.filename,
        "actor": record.actor,
        "rows": record.rows,
        "changed": record.changed,
        "unchanged": record.unchanged,
        "unknown": record.unknown,
        "invalid": record.invalid,
        "duplicates": record.duplicates,
        "created_at": record.created_at.isoformat(),
    }


def problems_csv(record: TagImport, headings: Sequence[str] = (), describe: Any = None) -> str:
    """The refused rows as CSV (`line,card_no,problem,detail`), with a byte-order mark so
    spreadsheets read it as UTF-8; `headings` and `describe(problem)` put it in words."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(headings) or ["line", "card_no", "problem", "first_line"])
    for row in record.problems:
        problem = str(row["problem"])
        writer.writerow(
            [
                row["line"],
                row["value"],
                describe(problem) if describe is not None else problem,
                row.get("first_line", ""),
            ]
        )
    return "\ufeff" + out.getvalue()
