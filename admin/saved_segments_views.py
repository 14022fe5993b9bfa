"""Saved segments (会员分群) for owners and operators: named filters over the card holders, their
live counts and a sample of their members, and the preview of a filter not saved yet."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    SavedSegment,
    SavedSegmentCount,
    SavedSegmentDeleted,
    SavedSegmentPage,
    SegmentPreview,
    SegmentSample,
)
from handlers.segments import saved
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Limit, Page, Query
from wxmember.core.web import json_response, page_body

routes = Routes()

FILTER_ERRORS = ("invalid_filter",)


class SampleQuery(Query):
    """How many members to show (newest first)."""

    limit: Limit = saved.SAMPLE_SIZE


@routes.get("/segments", query=Page, response=SavedSegmentPage)
@allow(*STAFF)
async def list_segments(request: web.Request, query: Page) -> web.Response:
    """Saved segments, newest first (each one's count: `/segments/{segment_id}/count`)."""
    found = await saved.list_segments(query.cursor, query.limit)
    views = [saved.segment_view(segment) for segment in found]
    return json_response(page_body(views, [segment.id for segment in found], query.limit))


@routes.post(
    "/segments",
    body=saved.SegmentCreate,
    status=201,
    response=SavedSegment,
    errors=("segment_name_taken", *FILTER_ERRORS),
)
@allow(*STAFF)
async def create_segment(request: web.Request, body: saved.SegmentCreate) -> web.Response:
    """Save a filter under a name (audited); names are unique whatever their case."""
    services = request.config_dict[keys.SERVICES]
    segment = await saved.create_segment(services, current_operator(request), body)
    return json_response(saved.segment_view(segment), status=201)


@routes.post(
    "/segments/preview", body=saved.SegmentPreview, response=SegmentPreview, errors=FILTER_ERRORS
)
@allow(*STAFF)
async def preview(request: web.Request, body: saved.SegmentPreview) -> web.Response:
    """How many card holders a filter selects now, and the newest 20 of them; nothing saved."""
    services = request.config_dict[keys.SERVICES]
    return json_response(await saved.preview(services, body.filter))


@routes.get("/segments/{segment_id}", response=SavedSegment, errors=("segment_not_found",))
@allow(*STAFF)
async def get_segment(request: web.Request, segment_id: int) -> web.Response:
    """One saved segment and its filter."""
    return json_response(saved.segment_view(await saved.get_segment(segment_id)))


@routes.patch(
    "/segments/{segment_id}",
    body=saved.SegmentPatch,
    response=SavedSegment,
    errors=("segment_not_found", "segment_name_taken", *FILTER_ERRORS),
)
@allow(*STAFF)
async def update_segment(
    request: web.Request, segment_id: int, body: saved.SegmentPatch
) -> web.Response:
    """Rename, redescribe or replace the filter of a saved segment (audited)."""
    services = request.config_dict[keys.SERVICES]
    segment = await saved.update_segment(services, current_operator(request), segment_id, body)
    return json_response(saved.segment_view(segment))


@routes.delete(
    "/segments/{segment_id}", response=SavedSegmentDeleted, errors=("segment_not_found",)
)
@allow(*STAFF)
async def delete_segment(request: web.Request, segment_id: int) -> web.Response:
    """Delete a saved segment (audited); no member is changed."""
    segment = await saved.delete_segment(current_operator(request), segment_id)
    return json_response({"id": segment_id, "name": segment.name})


@routes.get(
    "/segments/{segment_id}/count", response=SavedSegmentCount, errors=("segment_not_found",)
)
@allow(*STAFF)
async def count(request: web.Request, segment_id: int) -> web.Response:
    """How many live card holders the saved segment's filter selects now."""
    services = request.config_dict[keys.SERVICES]
    segment = await saved.get_segment(segment_id)
    members = await saved.count(services, saved.criteria_of(segment))
    return json_response({"segment_id": segment_id, "members": members})


@routes.get(
    "/segments/{segment_id}/members",
    query=SampleQuery,
    response=SegmentSample,
    errors=("segment_not_found",),
)
@allow(*STAFF)
async def members(request: web.Request, segment_id: int, query: SampleQuery) -> web.Response:
    """A sample of the saved segment's members now: the newest `limit` (phones masked)."""
    services = request.config_dict[keys.SERVICES]
    segment = await saved.get_segment(segment_id)
    found = await saved.sample(services, saved.criteria_of(segment), query.limit)
    return json_response({"segment_id": segment_id, "items": found})
