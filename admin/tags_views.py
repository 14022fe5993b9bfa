"""Member tags for owners and operators: the tags, tagging members one by one or from a CSV of
card numbers, and the report of each bulk tagging."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    MemberTagLink,
    MemberTagList,
    StaffTag,
    StaffTagPage,
    TagDeleted,
    TaggedMemberPage,
    TagImportPage,
    TagImportSummary,
    TagRemoved,
)
from handlers import tags
from handlers.tags import catalogue, imports
from handlers.tags.members import link_view, tagged_view
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Page
from wxmember.core.openapi import Also, Binary
from wxmember.core.web import json_response, page_body

routes = Routes()

IMPORT_ERRORS = ("tag_not_found", "csv_too_large", "csv_empty", "csv_unreadable")
ALREADY_TAGGED = Also(200, "The member carried the tag already: nothing changed.")


async def _with_count(tag_id: int) -> dict[str, object]:
    tag = await tags.get_tag(tag_id)
    counts = await catalogue.member_counts([tag.id])
    return tags.tag_view(tag, counts.get(tag.id, 0))


# --- tags ---------------------------------------------------------------------------------


@routes.get("/tags", query=Page, response=StaffTagPage)
@allow(*STAFF)
async def list_tags(request: web.Request, query: Page) -> web.Response:
    """Every tag, newest first, with how many live members carry it."""
    found = await tags.list_tags(query.cursor, query.limit)
    views = [tags.tag_view(tag, count) for tag, count in found]
    return json_response(page_body(views, [tag.id for tag, _ in found], query.limit))


@routes.post(
    "/tags", body=tags.TagCreate, status=201, response=StaffTag, errors=("tag_name_taken",)
)
@allow(*STAFF)
async def create_tag(request: web.Request, body: tags.TagCreate) -> web.Response:
    """Create a tag (audited); its name is unique whatever its case and spacing."""
    tag = await tags.create_tag(current_operator(request), body)
    return json_response(tags.tag_view(tag, 0), status=201)


@routes.get("/tags/{tag_id}", response=StaffTag, errors=("tag_not_found",))
@allow(*STAFF)
async def get_tag(request: web.Request, tag_id: int) -> web.Response:
    """One tag, with how many live members carry it."""
    return json_response(await _with_count(tag_id))


@routes.patch(
    "/tags/{tag_id}",
    body=tags.TagPatch,
    response=StaffTag,
    errors=("tag_not_found", "tag_name_taken"),
)
@allow(*STAFF)
async def update_tag(request: web.Request, tag_id: int, body: tags.TagPatch) -> web.Response:
    """Rename, recolour or redescribe a tag (audited); members keep it."""
    await tags.update_tag(current_operator(request), tag_id, body)
    return json_response(await _with_count(tag_id))


@routes.delete("/tags/{tag_id}", response=TagDeleted, errors=("tag_not_found",))
@allow(*STAFF)
async def delete_tag(request: web.Request, tag_id: int) -> web.Response:
    """Delete a tag and take it off every member (audited with how many)."""
    tag, untagged = await tags.delete_tag(current_operator(request), tag_id)
    return json_response({"id": tag_id, "name": tag.name, "members_untagged": untagged})


@routes.get(
    "/tags/{tag_id}/members", query=Page, response=TaggedMemberPage, errors=("tag_not_found",)
)
@allow(*STAFF)
async def tagged_members(request: web.Request, tag_id: int, query: Page) -> web.Response:
    """The live members carrying a tag, newest member first."""
    links = await tags.members_with_tag(tag_id, query.cursor, query.limit)
    views = [tagged_view(link) for link in links]
    return json_response(page_body(views, [link.member_id for link in links], query.limit))


# --- bulk tagging -------------------------------------------------------------------------


@routes.post(
    "/tags/{tag_id}/imports",
    body=imports.ImportBody,
    status=201,
    response=TagImportSummary,
    errors=IMPORT_ERRORS,
)
@allow(*STAFF)
async def import_csv(request: web.Request, tag_id: int, body: imports.ImportBody) -> web.Response:
    """Tag (`action: add`) or untag (`remove`) the members of a CSV of card numbers.

    One card number per row, in the first column or under a `card_no` (`卡号`) heading; the
    header row is optional. Rows that are not card numbers, fail the check digit, repeat an
    earlier row or name no member are counted and listed in the import's report
    (`/tag-imports/{import_id}/problems.csv`), never failing the file. Applying a file again
    changes nothing. Audited once, with the counts.
    """
    record = await imports.apply_file(
        current_operator(request),
        tag_id,
        body.csv,
        action=body.action,
        filename=body.filename,
        clock=request.config_dict[keys.SERVICES].clock,
    )
    return json_response(imports.import_view(record), status=201)


@routes.get("/tags/{tag_id}/imports", query=Page, response=TagImportPage, errors=("tag_not_found",))
@allow(*STAFF)
async def list_imports(request: web.Request, tag_id: int, query: Page) -> web.Response:
    """The bulk taggings of a tag, newest first."""
    await tags.get_tag(tag_id)
    found = await imports.list_imports(tag_id, query.cursor, query.limit)
    views = [imports.import_view(record) for record in found]
    return json_response(page_body(views, [record.id for record in found], query.limit))


@routes.get("/tag-imports/{import_id}", response=TagImportSummary, errors=("tag_import_not_found",))
@allow(*STAFF)
async def get_import(request: web.Request, import_id: int) -> web.Response:
    """A bulk tagging's summary."""
    return json_response(imports.import_view(await imports.get_import(import_id)))


@routes.get(
    "/tag-imports/{import_id}/problems.csv",
    response=Binary("text/csv"),
    errors=("tag_import_not_found",),
)
@allow(*STAFF)
async def import_problems(request: web.Request, import_id: int) -> web.Response:
    """The rows a bulk tagging refused, as CSV: line, card number, problem (`invalid`,
    `check_digit`, `duplicate`, `unknown`) and, for a duplicate, the line it repeats."""
    record = await imports.get_import(import_id)
    return web.Response(
        text=imports.problems_csv(record),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="tag-import-{import_id}.csv"'},
    )


# --- a member's tags ----------------------------------------------------------------------


@routes.get("/members/{member_id}/tags", response=MemberTagList, errors=("member_not_found",))
@allow(*STAFF)
async def member_tags(request: web.Request, member_id: int) -> web.Response:
    """The tags a member carries, in name order."""
    links = await tags.member_tags(member_id)
    return json_response({"items": [link_view(link) for link in links]})


@routes.put(
    "/members/{member_id}/tags/{tag_id}",
    status=201,
    response=MemberTagLink,
    also=(ALREADY_TAGGED,),
    errors=("member_not_found", "tag_not_found"),
)
@allow(*STAFF)
async def tag_member(request: web.Request, member_id: int, tag_id: int) -> web.Response:
    """Put a tag on a member (audited); 200 when they carried it already, nothing changed."""
    link, created = await tags.tag_member(current_operator(request), member_id, tag_id)
    return json_response(link_view(link), status=201 if created else 200)


@routes.delete(
    "/members/{member_id}/tags/{tag_id}",
    response=TagRemoved,
    errors=("member_not_found", "tag_not_found"),
)
@allow(*STAFF)
async def untag_member(request: web.Request, member_id: int, tag_id: int) -> web.Response:
    """Take a tag off a member (audited); `removed: false` when they did not carry it."""
    removed = await tags.untag_member(current_operator(request), member_id, tag_id)
    return json_response({"removed": removed})
