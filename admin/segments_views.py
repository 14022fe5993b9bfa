"""RFM for staff: a member's scores, segment sizes, monthly moves, the settings, runs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    MemberRfm,
    RfmRunPage,
    RfmRunReport,
    RfmSettings,
    SegmentMovement,
    SegmentSizes,
)
from handlers import segments
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MaybeMonth, Page, Query
from wxmember.core.models.segments import RfmRun
from wxmember.core.web import json_response, page_body

routes = Routes()


class MovementQuery(Query):
    month: MaybeMonth = None


def _run_public(run: RfmRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "day": run.day.isoformat(),
        "settings_version": run.settings_version,
        "mode": run.mode,
        "status": str(run.status),
        "cuts": run.cuts,
        "cursor": run.cursor,
        "scored": run.scored,
        "batches": run.batches,
        "snapshot_month": run.snapshot_month.isoformat() if run.snapshot_month else None,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@routes.get("/members/{member_id}/rfm", response=MemberRfm, errors=("member_not_found",))
@allow(*STAFF)
async def member_rfm(request: web.Request, member_id: int) -> web.Response:
    """A member's recency, frequency, monetary value, scores and segment."""
    row = await segments.member_rfm(member_id)
    return json_response({"member_id": member_id, "rfm": segments.rfm_public(row)})


@routes.get("/rfm/segments", response=SegmentSizes)
@allow(*STAFF)
async def segment_sizes(request: web.Request) -> web.Response:
    """Members per segment as of the latest run, every segment listed."""
    return json_response((await segments.sizes_now()).public())


@routes.get("/rfm/movements", query=MovementQuery, response=SegmentMovement)
@allow(*STAFF)
async def segment_movement(request: web.Request, query: MovementQuery) -> web.Response:
    """A month's snapshot (default the latest): sizes, and moves from the month before."""
    found = await segments.movement(query.month)
    months = [month.isoformat()[:7] for month in await segments.snapshot_months()]
    return json_response(found.public() | {"months": months})


@routes.get("/rfm/settings", response=RfmSettings)
@allow(*STAFF)
async def get_settings(request: web.Request) -> web.Response:
    """How scores are given: quintiles, or the operators' thresholds."""
    return json_response((await segments.current_settings()).public())


@routes.put(
    "/rfm/settings",
    body=segments.RfmSettingsBody,
    response=RfmSettings,
    errors=("thresholds_required",),
)
@allow(*STAFF)
async def put_settings(request: web.Request, body: segments.RfmSettingsBody) -> web.Response:
    """Choose quintiles or thresholds (audited); the next run scores under them."""
    services = request.config_dict[keys.SERVICES]
    saved = await segments.save_settings(services, current_operator(request), body)
    return json_response(saved.public())


@routes.get("/rfm/runs", query=Page, response=RfmRunPage)
@allow(*STAFF)
async def list_runs(request: web.Request, query: Page) -> web.Response:
    """RFM runs, newest first."""
    rows = await segments.runs(query.cursor, query.limit)
    items = [_run_public(run) for run in rows]
    return json_response(page_body(items, [run.id for run in rows], query.limit))


@routes.post("/rfm/runs", response=RfmRunReport)
@allow(*STAFF)
async def start_run(request: web.Request) -> web.Response:
    """Score today now (audited): the day's run under the current settings, once."""
    services = request.config_dict[keys.SERVICES]
    report = await segments.run_for_staff(services, current_operator(request))
    return json_response(report.as_dict())
