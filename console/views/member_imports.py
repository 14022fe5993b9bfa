"""Importing members from another membership system: the upload, the imports, each outcome and
its downloadable report of the rows that were not applied."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_request import FileField

from console.i18n import catalogue, error_text
from console.pages import Pages, render
from console.session import current_staff
from console.views.members import Texts
from handlers import member_import
from handlers.member_import.reading import UPLOAD_MAX_CHARS
from handlers.member_import.report import problem_rows, problems_csv_chunks
from handlers.operators.permissions import Area
from wxmember.core import keys
from wxmember.core.errors import DomainError, ValidationFailed

pages = Pages()

RECENT = 20
SHOWN_PROBLEMS = 20


def problem(code: str) -> str:
    """A refusal on the import pages in words: the area's own text, else the code's."""
    return catalogue().get(f"member_imports.errors.{code}") or error_text(code)


async def _list_page(
    request: web.Request, *, status: int = 200, errors: dict[str, str] | None = None
) -> web.Response:
    recent = await member_import.list_imports(None, RECENT)
    return render(
        request,
        "member_imports/list.html",
        status=status,
        problem=problem,
        errors=errors or {},
        imports=[member_import.import_view(record) for record in recent[:RECENT]],
        texts=Texts(request.config_dict[keys.SERVICES]),
    )


@pages.get("/member-imports", area=Area.MEMBERS)
async def member_imports(request: web.Request) -> web.StreamResponse:
    """The recent imports of members, and the form to upload a file."""
    return await _list_page(request)


@pages.post("/member-imports", area=Area.MEMBERS)
async def upload_members(request: web.Request) -> web.StreamResponse:
    """Import the members of an uploaded CSV; then its outcome."""
    post = await request.post()
    upload = post.get("file")
    services = request.config_dict[keys.SERVICES]
    try:
        if not isinstance(upload, FileField):
            raise ValidationFailed("Choose a file.", code="csv_empty")
        text = member_import.decode(upload.file.read(UPLOAD_MAX_CHARS * 4 + 1))
        source = member_import.source_from_text(text, (upload.filename or "")[:200])
        record = await member_import.import_members(services, current_staff(request), source)
    except DomainError as exc:
        return await _list_page(request, status=exc.status, errors={"file": exc.code})
    raise web.HTTPSeeOther(f"/console/member-imports/{record.id}")


@pages.get("/member-imports/{import_id}", area=Area.MEMBERS)
async def member_import_page(request: web.Request, import_id: int) -> web.StreamResponse:
    """The outcome of an import: its counts, the first refused rows, the report to download."""
    record = await member_import.get_import(import_id)
    shown = []
    async for row in problem_rows(record):
        shown.append(row)
        if len(shown) == SHOWN_PROBLEMS:
            break
    view = member_import.import_view(record)
    return render(
        request,
        "member_imports/import.html",
        record=view,
        problems=shown,
        more_problems=max(0, view["refused"] + view["changed"] - len(shown)),
        texts=Texts(request.config_dict[keys.SERVICES]),
    )


@pages.get("/member-imports/{import_id}/problems.csv", area=Area.MEMBERS)
async def member_import_problems_csv(request: web.Request, import_id: int) -> web.StreamResponse:
    """The rows an import did not apply, as CSV in words (UTF-8 with a byte-order mark)."""
    record = await member_import.get_import(import_id)
    texts = catalogue()
    headings = tuple(texts[f"member_imports.report.{name}"] for name in member_import.HEADINGS)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="member-import-{import_id}.csv"',
        }
    )
    await response.prepare(request)
    chunks = problems_csv_chunks(
        record, headings, describe=lambda code: texts[f"member_imports.problems.{code}"]
    )
    async for chunk in chunks:
        await response.write(chunk.encode())
    await response.write_eof()
    return response
