"""What an import did: its record, its counts and its refused rows as a downloadable CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from handlers.member_import.apply import counts_of
from wxmember.core.errors import MemberImportNotFound
from wxmember.core.kernel import continue_after
from wxmember.core.models.member_imports import ImportStatus, MemberImport, MemberImportProblem

PAGE = 1000
HEADINGS = ("line", "card_no", "problem", "detail")


async def get_import(import_id: int) -> MemberImport:
    """One import; 404 `member_import_not_found`."""
    record = await MemberImport.get_or_none(id=import_id)
    if record is None:
        raise MemberImportNotFound()
    return record


async def list_imports(after_id: int | None, limit: int) -> list[MemberImport]:
    """Imports newest first, `limit + 1` rows."""
    query = continue_after(MemberImport.all().order_by("-id"), after_id)
    return await query.limit(limit + 1)


def import_view(record: MemberImport) -> dict[str, Any]:
    """An import's summary (its refused rows are in its report)."""
    return {
        "id": record.id,
        "filename": record.filename,
        "status": ImportStatus(record.status).value,
        "actor": record.actor,
        **counts_of(record),
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
    }


async def problem_rows(record: MemberImport) -> AsyncIterator[MemberImportProblem]:
    """The refused rows in line order, a page at a time."""
    after = 0
    while True:
        page = await (
            MemberImportProblem.filter(member_import_id=record.id, id__gt=after)
            .order_by("id")
            .limit(PAGE)
        )
        for row in sorted(page, key=lambda problem: problem.line):
            yield row
        if len(page) < PAGE:
            return
        after = page[-1].id


async def problems_csv_chunks(
    record: MemberImport,
    headings: tuple[str, ...] = HEADINGS,
    describe: Callable[[str], str] | None = None,
) -> AsyncIterator[str]:
    """The refused rows as CSV text, a page at a time, starting with a byte-order mark so
    spreadsheets read it as UTF-8; `headings` and `describe(problem)` put it in words."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings)
    yield "\ufeff" + out.getvalue()
    count = 0
    async for row in problem_rows(record):
        if count % PAGE == 0:
            out.seek(0)
            out.truncate()
        problem = describe(row.problem) if describe is not None else row.problem
        writer.writerow([row.line, row.card_no, problem, row.detail])
        count += 1
        if count % PAGE == 0:
            yield out.getvalue()
    if count % PAGE:
        yield out.getvalue()


async def problems_csv(record: MemberImport, **words: Any) -> str:
    """The whole report as one text (an uploaded file's report, bounded by the upload)."""
    return "".join([chunk async for chunk in problems_csv_chunks(record, **words)])


async def write_problems(record: MemberImport, path: Path) -> int:
    """Write the refused rows' CSV to a file a page at a time; how many rows it lists."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        async for chunk in problems_csv_chunks(record):
            handle.write(chunk)
    return await MemberImportProblem.filter(member_import_id=record.id).count()
