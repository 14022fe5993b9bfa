"""会员分群: saved segments (named filters over the card holders) with their live counts; the
form that builds a filter, with the count and a sample of members updated as it is typed
(htmx); saving, editing and deleting one.

Every write goes through `handlers.segments.saved`, as the admin API's do, so the filter is
checked and the change audited the same way. Segments belong to the members' area: owners and
operators.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from console.i18n import catalogue, error_text
from console.pages import Pages, render
from console.session import current_staff
from console.views.setup.forms import FormReader, services_of, yuan
from handlers.operators.permissions import Area
from handlers.segments import saved
from handlers.segments.criteria import Criteria
from handlers.segments.rules import LABELS, Segment
from handlers.tags.catalogue import all_tags
from wxmember.core.errors import DomainError
from wxmember.core.inputs import Page, read_query, validate
from wxmember.core.models.saved_segments import SavedSegment
from wxmember.core.models.tiers import Tier

pages = Pages()
PAGE_SIZE = 20
RANGES = (
    ("r_score", False),
    ("f_score", False),
    ("m_score", False),
    ("purchase_count", False),
    ("purchase_amount_fen", True),
    ("points_balance", False),
)
DAYS = ("last_purchase_after", "last_purchase_before", "card_opened_after", "card_opened_before")
ID_LISTS = ("tier_ids", "tags_any", "tags_all", "tags_none")
NOTICES = ("created", "updated", "deleted")


def _whole(values: list[str]) -> list[int]:
    return [
        int(value) for value in values if value.isascii() and value.isdigit() and len(value) < 11
    ]


def read_form(form: MultiDictProxy[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The filter the form describes (as the API's JSON) and the fields refused already."""
    text = {key: value for key, value in form.items() if isinstance(value, str)}
    reader = FormReader(text)
    criteria: dict[str, Any] = {}
    for name in ID_LISTS:
        chosen = _whole([str(value) for value in form.getall(name, [])])
        if chosen:
            criteria[name] = chosen
    segments = [str(value) for value in form.getall("rfm_segments", [])]
    if segments:
        criteria["rfm_segments"] = segments
    months = _whole([str(value) for value in form.getall("birth_months", [])])
    if months:
        criteria["birth_months"] = months
    for name, money in RANGES:
        bounds: dict[str, int] = {}
        for end in ("min", "max"):
            key = f"{name}_{end}"
            if money:
                value = reader.fen(key, field=name)
            else:
                value = reader.whole(key, low=0, high=2**31 - 1, field=name)
            if value is not None:
                bounds[end] = value
        if bounds:
            criteria[name] = bounds
    for name in DAYS:
        day = reader.day(name)
        if day is not None:
            criteria[name] = day.isoformat()
    stores = [part.strip() for part in text.get("stores", "").replace("，", ",").split(",")]
    if any(stores):
        criteria["stores"] = [store for store in stores if store]
    follows = text.get("follows_official_account", "")
    if follows in ("yes", "no"):
        criteria["follows_official_account"] = follows == "yes"
    template = text.get("subscribe_template_id", "").strip()
    if template:
        criteria["subscribe_template_id"] = template
    return criteria, reader.errors


def problem(code: str, field: str | None = None, message: str | None = None) -> str:
    """A refusal in words: the field's own text when the refusal names one."""
    texts = catalogue()
    if field:
        name = field.removeprefix("filter.").split(".")[0]
        label = texts.get(f"saved_segments.fields.{name}")
        if label:
            return texts["saved_segments.bad_field"].format(field=label)
    return texts.get(f"saved_segments.errors.{code}") or error_text(code, message)


def _refusal(exc: DomainError) -> str:
    field = exc.details.get("field")
    return problem(exc.code, field if isinstance(field, str) else None, exc.message)


def _form_values(criteria: dict[str, Any]) -> dict[str, Any]:
    """A saved filter as the form shows it."""
    values: dict[str, Any] = {}
    for name, money in RANGES:
        for end in ("min", "max"):
            bound = criteria.get(name, {}).get(end)
            if bound is not None:
                values[f"{name}_{end}"] = yuan(bound) if money else str(bound)
    for name in DAYS:
        values[name] = criteria.get(name, "")
    values["stores"] = ", ".join(criteria.get("stores", []))
    follows = criteria.get("follows_official_account")
    values["follows_official_account"] = "" if follows is None else ("yes" if follows else "no")
    values["subscribe_template_id"] = criteria.get("subscribe_template_id", "")
    for name in (*ID_LISTS, "rfm_segments", "birth_months"):
        values[name] = set(criteria.get(name, []))
    return values


async def _form_page(
    request: web.Request,
    segment: SavedSegment | None,
    values: dict[str, Any],
    *,
    name: str = "",
    description: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    texts = catalogue()
    return render(
        request,
        "segments/form.html",
        status=status,
        segment=segment,
        values=values,
        name=name,
        description=description,
        error=error,
        tier_options=[(tier.id, tier.name) for tier in await Tier.all().order_by("level")],
        tag_options=[(tag.id, tag.name) for tag in await all_tags()],
        rfm_options=[(str(code), LABELS[code]) for code in Segment],
        month_options=[
            (month, texts["saved_segments.month"].format(n=month)) for month in range(1, 13)
        ],
        ranges=[name for name, _ in RANGES],
        money={name for name, money in RANGES if money},
        days=DAYS,
        notice=request.query.get("done") if request.query.get("done") in NOTICES else None,
    )


@pages.get("/segments", area=Area.MEMBERS)
async def segment_list(request: web.Request) -> web.StreamResponse:
    """The saved segments, newest first; each row's live count arrives on its own (htmx)."""
    query = read_query(request, Page)
    found = await saved.list_segments(query.cursor, PAGE_SIZE)
    more = len(found) > PAGE_SIZE
    rows = found[:PAGE_SIZE]
    done = request.query.get("done")
    return render(
        request,
        "segments/list.html",
        segments=rows,
        next_url=f"/console/segments?cursor={rows[-1].id:x}" if more else None,
        notice=done if done in NOTICES else None,
        deleted_name=request.query.get("name", "")[:40],
    )


@pages.get("/segments/new", area=Area.MEMBERS)
async def new_segment(request: web.Request) -> web.StreamResponse:
    """An empty filter: every live card holder, narrowed as criteria are chosen."""
    return await _form_page(request, None, _form_values({}))


@pages.get("/segments/{segment_id}", area=Area.MEMBERS)
async def edit_segment(request: web.Request, segment_id: int) -> web.StreamResponse:
    """A saved segment's filter in the form, its live count and sample beside it."""
    segment = await saved.get_segment(segment_id)
    return await _form_page(
        request,
        segment,
        _form_values(segment.criteria),
        name=segment.name,
        description=segment.description,
    )


@pages.get("/segments/{segment_id}/count", area=Area.MEMBERS)
async def segment_count(request: web.Request, segment_id: int) -> web.StreamResponse:
    """A saved segment's live count, for its row of the list."""
    segment = await saved.get_segment(segment_id)
    members = await saved.count(services_of(request), saved.criteria_of(segment))
    return render(request, "segments/count.html", members=members)


@pages.post("/segments/preview", area=Area.MEMBERS)
async def preview(request: web.Request) -> web.StreamResponse:
    """The live count and sample of the filter as typed so far (an htmx fragment)."""
    criteria, errors = read_form(await request.post())
    result: dict[str, Any] | None = None
    error = None
    if errors:
        field = next(iter(errors))
        error = problem(errors[field], field)
    else:
        try:
            result = await saved.preview(services_of(request), validate(Criteria, criteria))
        except DomainError as exc:
            error = _refusal(exc)
    return render(request, "segments/preview.html", result=result, error=error)


async def _save(request: web.Request, segment_id: int | None) -> web.StreamResponse:
    form = await request.post()
    criteria, errors = read_form(form)
    name = str(form.get("name", ""))
    description = str(form.get("description", ""))
    segment = await saved.get_segment(segment_id) if segment_id is not None else None
    if errors:
        field = next(iter(errors))
        return await _form_page(
            request,
            segment,
            _form_values(criteria) | {key: form.get(key, "") for key in errors},
            name=name,
            description=description,
            error=problem(errors[field], field),
            status=400,
        )
    body = {"name": name, "description": description, "filter": criteria}
    services = services_of(request)
    try:
        if segment_id is None:
            made = await saved.create_segment(
                services, current_staff(request), validate(saved.SegmentCreate, body)
            )
            segment_id, done = made.id, "created"
        else:
            await saved.update_segment(
                services, current_staff(request), segment_id, validate(saved.SegmentPatch, body)
            )
            done = "updated"
    except DomainError as exc:
        return await _form_page(
            request,
            segment,
            _form_values(criteria),
            name=name,
            description=description,
            error=_refusal(exc),
            status=exc.status,
        )
    raise web.HTTPSeeOther(f"/console/segments/{segment_id}?done={done}")


@pages.post("/segments", area=Area.MEMBERS)
async def create_segment(request: web.Request) -> web.StreamResponse:
    """Save the filter under a name (audited)."""
    return await _save(request, None)


@pages.post("/segments/{segment_id}", area=Area.MEMBERS)
async def update_segment(request: web.Request, segment_id: int) -> web.StreamResponse:
    """Save a segment's new name, description or filter (audited)."""
    return await _save(request, segment_id)


@pages.post("/segments/{segment_id}/delete", area=Area.MEMBERS)
async def delete_segment(request: web.Request, segment_id: int) -> web.StreamResponse:
    """Delete a saved segment (audited); no member changes."""
    segment = await saved.delete_segment(current_staff(request), segment_id)
    raise web.HTTPSeeOther(f"/console/segments?done=deleted&name={quote(segment.name)}")
