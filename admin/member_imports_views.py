"""Importing members from another membership system for owners and operators: the upload, the
imports and the report of the rows each refused."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from admin.auth import STAFF, allow, current_operator
from admin.responses import MemberImportPage, MemberImportSummary
from handlers import member_import
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, Page
from wxmember.core.openapi import Binary
from wxmember.core.web import json_response, page_body

routes = Routes()

IMPORT_ERRORS = (
    "csv_too_large",
    "csv_empty",
    "csv_unreadable",
    "import_columns_missing",
)


class MemberImportBody(Body):
    """A CSV of members as text, and the file's name if any."""

    csv: str  # its size is judged by the import (413 `csv_too_large`), the body's by the server
    filename: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=200), CleanText
    ] = ""


@routes.post(
    "/member-imports",
    body=MemberImportBody,
    status=201,
    response=MemberImportSummary,
    errors=IMPORT_ERRORS,
)
@allow(*STAFF)
async def import_members(request: web.Request, body: MemberImportBody) -> web.Response:
    """Import members moved in from another system (a header row names the columns; `phone`
    is required). Each row is checked on its own; refused rows, and rows imported before with
    other values (`changed`, never applied), are listed in the import's report
    (`/member-imports/{import_id}/problems.csv`). Importing the same file again changes
    nothing, and finishes an import cut short. Audited once, with the counts."""
    services = request.config_dict[keys.SERVICES]
    source = member_import.source_from_text(body.csv, body.filename)
    record = await member_import.import_members(services, current_operator(request), source)
    return json_response(member_import.import_view(record), status=201)


@routes.get("/member-imports", query=Page, response=MemberImportPage)
@allow(*STAFF)
async def list_member_imports(request: web.Request, query: Page) -> web.Response:
    """Imports of members, newest first."""
    found = await member_import.list_imports(query.cursor, query.limit)
    views = [member_import.import_view(record) for record in found]
    return json_response(page_body(views, [record.id for record in found], query.limit))


@routes.get(
    "/member-imports/{import_id}",
    response=MemberImportSummary,
    errors=("member_import_not_found",),
)
@allow(*STAFF)
async def get_member_import(request: web.Request, import_id: int) -> web.Response:
    """An import's summary."""
    return json_response(member_import.import_view(await member_import.get_import(import_id)))


@routes.get(
    "/member-imports/{import_id}/problems.csv",
    response=Binary("text/csv"),
    errors=("member_import_not_found",),
)
@allow(*STAFF)
async def member_import_problems(request: web.Request, import_id: int) -> web.Response:
    """The rows an import did not apply, as CSV: line, card number, problem and detail."""
    record = await member_import.get_import(import_id)
    return web.Response(
        text=await member_import.problems_csv(record),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="member-import-{import_id}.csv"'},
    )
