"""会员标签: the tags with how many members carry each; creating, renaming and deleting one; a
tag's members; tagging members in bulk from a CSV of card numbers, with the outcome and its
report of refused rows; and tagging a member from their page.

Every write goes through `handlers.tags`, as the admin API's do, so it is checked and audited
the same way. A refusal sends the page back with what was typed and the reason beside its
field. Tags are part of the members' area: owners and operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_request import FileField
from pydantic import Field

from console.i18n import catalogue, error_text
from console.pages import Pages, form_data, render
from console.session import current_staff
from console.views.member_actions import refused
from console.views.members import PAGE_SIZE, Paged, Texts, paged
from handlers import tags
from handlers.operators.permissions import Area
from handlers.tags import catalogue as tag_catalogue
from handlers.tags import imports
from wxmember.core import keys
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.inputs import MAX_ID, Page, Query, QueryInt, read_query, validate
from wxmember.core.models.tags import ImportAction, Tag

pages = Pages()

# The colours offered (a tag made through the API may have any other #rrggbb: it is kept).
COLOURS = ("#ef4444", "#f97316", "#eab308", "#22c55e", "#14b8a6", "#3b82f6", "#8b5cf6", "#6b7280")
NOTICES = ("created", "updated", "deleted")
FIELDS = ("name", "colour", "description")


class TagChoice(Query):
    """The member page's "add a tag" form."""

    tag_id: Annotated[int, QueryInt, Field(ge=1, le=MAX_ID)]


def _tag_values(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as the handler's body: an empty colour is none."""
    return {
        "name": form.get("name", ""),
        "colour": form.get("colour") or None,
        "description": form.get("description", ""),
    }


def problem(code: str) -> str:
    """A refusal on the tag pages in words: the area's own text for a field, else the code's."""
    return catalogue().get(f"tags.errors.{code}") or error_text(code)


def _field_errors(exc: DomainError) -> dict[str, str]:
    named = exc.details.get("field")
    if isinstance(named, str) and named in FIELDS:
        return {named: exc.code}
    if exc.code == "tag_name_taken":
        return {"name": exc.code}
    return {"form": exc.code}


async def _list_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    query = read_query(request, Page)
    found = await tags.list_tags(query.cursor, PAGE_SIZE)
    listed = paged(
        [tags.tag_view(tag, count) for tag, count in found],
        [tag.id for tag, _ in found],
        lambda cursor: f"/console/tags?cursor={cursor}",
    )
    done = request.query.get("done")
    return render(
        request,
        "tags/list.html",
        status=status,
        problem=problem,
        tags=listed,
        colours=COLOURS,
        errors=errors or {},
        typed=typed or {},
        notice=done if done in NOTICES else None,
        deleted_name=request.query.get("name", "")[:32],
        untagged=request.query.get("untagged", ""),
    )


@pages.get("/tags", area=Area.MEMBERS)
async def tag_list(request: web.Request) -> web.StreamResponse:
    """Every tag, newest first, with how many members carry it; the form to create one."""
    return await _list_page(request)


@pages.post("/tags", area=Area.MEMBERS)
async def create_tag(request: web.Request) -> web.StreamResponse:
    """Create a tag (audited)."""
    form = await form_data(request)
    try:
        tag = await tags.create_tag(
            current_staff(request), validate(tags.TagCreate, _tag_values(form))
        )
    except DomainError as exc:
        return await _list_page(request, status=exc.status, errors=_field_errors(exc), typed=form)
    raise web.HTTPSeeOther(f"/console/tags/{tag.id}?done=created")


async def _tag_page(
    request: web.Request,
    tag: Tag,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    query = read_query(request, Page)
    links = await tags.members_with_tag(tag.id, query.cursor, PAGE_SIZE)
    members: Paged = paged(
        links,
        [link.member_id for link in links],
        lambda cursor: f"/console/tags/{tag.id}?cursor={cursor}#members",
    )
    counts = await tag_catalogue.member_counts([tag.id])
    recent = await imports.list_imports(tag.id, None, 10)
    done = request.query.get("done")
    values = typed or {
        "name": tag.name,
        "colour": tag.colour or "",
        "description": tag.description,
    }
    return render(
        request,
        "tags/tag.html",
        status=status,
        problem=problem,
        tag=tags.tag_view(tag, counts.get(tag.id, 0)),
        members=members,
        imports=[imports.import_view(record) for record in recent[:10]],
        colours=COLOURS,
        errors=errors or {},
        typed=values,
        notice=done if done in NOTICES else None,
        texts=Texts(request.config_dict[keys.SERVICES]),
        max_rows=imports.MAX_ROWS,
    )


@pages.get("/tags/{tag_id}", area=Area.MEMBERS)
async def tag_page(request: web.Request, tag_id: int) -> web.StreamResponse:
    """A tag: its settings, its members page by page, bulk tagging and its recent uploads."""
    return await _tag_page(request, await tags.get_tag(tag_id))


@pages.post("/tags/{tag_id}", area=Area.MEMBERS)
async def update_tag(request: web.Request, tag_id: int) -> web.StreamResponse:
    """Rename, recolour or redescribe a tag (audited)."""
    tag = await tags.get_tag(tag_id)
    form = await form_data(request)
    try:
        await tags.update_tag(
            current_staff(request), tag_id, validate(tags.TagPatch, _tag_values(form))
        )
    except DomainError as exc:
        errors = _field_errors(exc)
        return await _tag_page(request, tag, status=exc.status, errors=errors, typed=form)
    raise web.HTTPSeeOther(f"/console/tags/{tag_id}?done=updated")


@pages.post("/tags/{tag_id}/delete", area=Area.MEMBERS)
async def delete_tag(request: web.Request, tag_id: int) -> web.StreamResponse:
    """Delete a tag and take it off its members (audited with how many)."""
    tag, untagged = await tags.delete_tag(current_staff(request), tag_id)
    raise web.HTTPSeeOther(
        f"/console/tags?done=deleted&untagged={untagged}&name={_quoted(tag.name)}"
    )


def _quoted(text: str) -> str:
    return quote(text, safe="")


# ----------------------------------------------------------------- bulk tagging


@pages.post("/tags/{tag_id}/imports", area=Area.MEMBERS)
async def upload(request: web.Request, tag_id: int) -> web.StreamResponse:
    """Tag or untag the members of an uploaded CSV of card numbers; then its outcome."""
    tag = await tags.get_tag(tag_id)
    post = await request.post()
    upload = post.get("file")
    action = str(post.get("action", ImportAction.ADD.value))
    try:
        if not isinstance(upload, FileField):
            raise ValidationFailed("Choose a file.", code="csv_empty")
        if action not in (ImportAction.ADD.value, ImportAction.REMOVE.value):
            raise ValidationFailed("add or remove", code="invalid_action")
        text = imports.decode(upload.file.read(imports.MAX_CHARS * 4 + 1))
        record = await imports.apply_file(
            current_staff(request),
            tag_id,
            text,
            action=ImportAction(action),
            filename=(upload.filename or "")[:200],
            clock=request.config_dict[keys.SERVICES].clock,
        )
    except DomainError as exc:
        return await _tag_page(request, tag, status=exc.status, errors={"file": exc.code})
    raise web.HTTPSeeOther(f"/console/tags/imports/{record.id}")


@pages.get("/tags/imports/{import_id}", area=Area.MEMBERS)
async def import_page(request: web.Request, import_id: int) -> web.StreamResponse:
    """The outcome of a bulk tagging: its counts, and the refused rows to download."""
    record = await imports.get_import(import_id)
    return render(
        request,
        "tags/import.html",
        record=imports.import_view(record),
        problems=record.problems[:20],
        more_problems=max(0, len(record.problems) - 20),
        texts=Texts(request.config_dict[keys.SERVICES]),
    )


@pages.get("/tags/imports/{import_id}/problems.csv", area=Area.MEMBERS)
async def problems_csv(request: web.Request, import_id: int) -> web.StreamResponse:
    """The refused rows of a bulk tagging as CSV, in words (UTF-8 with a byte-order mark)."""
    record = await imports.get_import(import_id)
    texts = catalogue()
    headings = [texts[f"tags.report.{name}"] for name in ("line", "card_no", "problem", "first")]
    body = imports.problems_csv(
        record, headings, describe=lambda code: texts[f"tags.problems.{code}"]
    )
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="tag-import-{import_id}.csv"'},
    )


# ----------------------------------------------------------------- a member's tags


@pages.post("/members/{member_id}/tags", area=Area.MEMBERS)
async def tag_member(request: web.Request, member_id: int) -> web.StreamResponse:
    """Put a tag on the member (audited; a tag they carry already changes nothing)."""
    values = await form_data(request)
    try:
        tag_id = validate(TagChoice, values).tag_id
        await tags.tag_member(current_staff(request), member_id, tag_id)
    except DomainError as exc:
        return await refused(request, member_id, "tags", values, exc)
    raise web.HTTPSeeOther(f"/console/members/{member_id}?done=tagged#tags")


@pages.post("/members/{member_id}/tags/{tag_id}/remove", area=Area.MEMBERS)
async def untag_member(request: web.Request, member_id: int, tag_id: int) -> web.StreamResponse:
    """Take a tag off the member (audited)."""
    try:
        await tags.untag_member(current_staff(request), member_id, tag_id)
    except DomainError as exc:
        return await refused(request, member_id, "tags", {}, exc)
    raise web.HTTPSeeOther(f"/console/members/{member_id}?done=untagged#tags")
