"""Tier ladder CRUD, moving a member between tiers, tier history and evaluation runs."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from admin.auth import STAFF, allow, current_operator
from handlers import tiers
from handlers.tiers import ladder as tier_ladder
from wxmember.core import keys
from wxmember.core.inputs import Printable, page_query, path_id, query_int, read_json
from wxmember.core.models.tier_history import EvaluationRun, TierChange
from wxmember.core.web import json_response, page_body

# Shapes and database-safe bounds here; the ladder's rules live in handlers/tiers/ladder.py.
Whole = Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)]
Text = Annotated[StrictStr, Field(max_length=64), Printable]
Benefits = Annotated[list[Any], Field(max_length=50)]


class TierBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    level: Whole
    color: Text = "#6B7280"
    growth_threshold: Whole
    retention_threshold: Whole = 0
    multiplier_percent: Whole = 100
    benefits: Benefits = []
    upgrade_gift_points: Whole = 0


class TierPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text | None = None
    level: Whole | None = None
    color: Text | None = None
    growth_threshold: Whole | None = None
    retention_threshold: Whole | None = None
    multiplier_percent: Whole | None = None
    benefits: Benefits | None = None
    upgrade_gift_points: Whole | None = None

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent fields stay unchanged; an explicit null is a mistake, not "clear it".
        if value is None:
            raise ValueError("cannot be null")
        return value


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier_id: Annotated[StrictInt, Field(ge=1, le=2_000_000_000)]
    note: Annotated[StrictStr, Field(max_length=200)] = ""


def _change_public(change: TierChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "member_id": change.member_id,
        "from_tier_id": change.from_tier_id,
        "to_tier_id": change.to_tier_id,
        "from_tier": change.from_name,
        "to_tier": change.to_name,
        "reason": str(change.reason),
        "growth": change.growth,
        "period_key": change.period_key,
        "operator_id": change.operator_id,
        "note": change.note,
        "created_at": change.created_at.isoformat(),
    }


def _run_public(run: EvaluationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "period_key": run.period_key,
        "period_start": run.period_start.isoformat(),
        "period_end": run.period_end.isoformat(),
        "status": str(run.status),
        "cursor": run.cursor,
        "checked": run.checked,
        "downgraded": run.downgraded,
        "skipped": run.skipped,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@allow(*STAFF)
async def list_tiers(request: web.Request) -> web.Response:
    ladder = await tier_ladder.list_tiers()
    counts = await tier_ladder.member_counts()
    items = [tier_ladder.public_tier(t) | {"member_count": counts.get(t.id, 0)} for t in ladder]
    return json_response({"items": items})


@allow(*STAFF)
async def get_tier(request: web.Request) -> web.Response:
    tier = await tier_ladder.get_tier(path_id(request, "tier_id"))
    return json_response(tier_ladder.public_tier(tier))


@allow(*STAFF)
async def create_tier(request: web.Request) -> web.Response:
    body = await read_json(request, TierBody)
    tier = await tier_ladder.create_tier(current_operator(request), body.model_dump())
    return json_response(tier_ladder.public_tier(tier), status=201)


@allow(*STAFF)
async def replace_tier(request: web.Request) -> web.Response:
    tier_id = path_id(request, "tier_id")
    body = await read_json(request, TierBody)
    tier = await tier_ladder.update_tier(current_operator(request), tier_id, body.model_dump())
    return json_response(tier_ladder.public_tier(tier))


@allow(*STAFF)
async def patch_tier(request: web.Request) -> web.Response:
    tier_id = path_id(request, "tier_id")
    body = await read_json(request, TierPatchBody)
    values = body.model_dump(exclude_unset=True)
    tier = await tier_ladder.update_tier(current_operator(request), tier_id, values)
    return json_response(tier_ladder.public_tier(tier))


@allow(*STAFF)
async def delete_tier(request: web.Request) -> web.Response:
    await tier_ladder.delete_tier(current_operator(request), path_id(request, "tier_id"))
    return web.Response(status=204)


@allow(*STAFF)
async def move_member(request: web.Request) -> web.Response:
    member_id = path_id(request, "member_id")
    body = await read_json(request, MoveBody)
    services = request.config_dict[keys.SERVICES]
    change = await tiers.move_member(
        services, current_operator(request), member_id, body.tier_id, note=body.note
    )
    return json_response(_change_public(change))


@allow(*STAFF)
async def tier_changes(request: web.Request) -> web.Response:
    before_id, limit = page_query(request, default_limit=50)
    member_id = query_int(request, "member_id", 0, 0, 2_000_000_000)
    rows = await tiers.tier_changes(member_id or None, before_id, limit)
    items = [_change_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], limit))


@allow(*STAFF)
async def evaluation_runs(request: web.Request) -> web.Response:
    before_id, limit = page_query(request)
    rows = await tiers.evaluation_runs(before_id, limit)
    return json_response(page_body([_run_public(r) for r in rows], [r.id for r in rows], limit))


def setup(app: web.Application) -> None:
    app.router.add_get("/tiers", list_tiers)
    app.router.add_post("/tiers", create_tier)
    app.router.add_get("/tiers/{tier_id}", get_tier)
    app.router.add_put("/tiers/{tier_id}", replace_tier)
    app.router.add_patch("/tiers/{tier_id}", patch_tier)
    app.router.add_delete("/tiers/{tier_id}", delete_tier)
    app.router.add_put("/members/{member_id}/tier", move_member)
    app.router.add_get("/tier-changes", tier_changes)
    app.router.add_get("/tier-evaluations", evaluation_runs)
