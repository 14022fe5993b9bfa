"""Tier ladder CRUD, moving a member between tiers, tier history and evaluation runs."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StrictStr, StringConstraints, field_validator

from admin.auth import STAFF, allow, current_operator
from admin.responses import EvaluationRunPage, Ladder, Tier, TierChangePage
from admin.responses import TierChange as TierChangeAnswer
from handlers import tiers
from handlers.tiers import ladder as tier_ladder
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MAX_ID, Body, CleanText, Id, Limit, Page, Printable, QueryInt
from wxmember.core.models.tier_history import EvaluationRun, TierChange
from wxmember.core.web import json_response, page_body

routes = Routes()

# Shapes and database-safe bounds here; the ladder's rules live in handlers/tiers/ladder.py.
WHOLE = 1_000_000_000
Whole = Annotated[int, Field(strict=True, ge=-WHOLE, le=WHOLE)]
MaybeWhole = Annotated[int | None, Field(strict=True, ge=-WHOLE, le=WHOLE)]
# The name's spacing is the ladder's to judge (it refuses names with spaces around them).
Text = Annotated[StrictStr, Field(max_length=64), Printable]
Benefits = Annotated[list[Any], Field(max_length=50)]

LADDER_ERRORS = (
    "invalid_name",
    "invalid_color",
    "invalid_level",
    "invalid_growth_threshold",
    "invalid_retention_threshold",
    "invalid_multiplier_percent",
    "invalid_upgrade_gift_points",
    "invalid_benefits",
    "too_many_tiers",
    "duplicate_level",
    "duplicate_name",
    "thresholds_not_increasing",
    "no_entry_tier",
)


class TierBody(Body):
    name: Text
    level: Whole
    color: Text = "#6B7280"
    growth_threshold: Whole
    retention_threshold: Whole = 0
    multiplier_percent: Whole = 100
    benefits: Benefits = []
    upgrade_gift_points: Whole = 0


class TierPatchBody(Body):
    name: Text | None = None
    level: MaybeWhole = None
    color: Text | None = None
    growth_threshold: MaybeWhole = None
    retention_threshold: MaybeWhole = None
    multiplier_percent: MaybeWhole = None
    benefits: Benefits | None = None
    upgrade_gift_points: MaybeWhole = None

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent fields stay unchanged; an explicit null is a mistake, not "clear it".
        if value is None:
            raise ValueError("cannot be null")
        return value


class MoveBody(Body):
    tier_id: Id
    note: Annotated[StrictStr, StringConstraints(max_length=200), CleanText] = ""


class ChangesQuery(Page):
    limit: Limit = 50
    member_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None


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


@routes.get("/tiers", response=Ladder)
@allow(*STAFF)
async def list_tiers(request: web.Request) -> web.Response:
    """The ladder, lowest level first, with how many members hold each tier."""
    ladder = await tier_ladder.list_tiers()
    counts = await tier_ladder.member_counts()
    items = [tier_ladder.public_tier(t) | {"member_count": counts.get(t.id, 0)} for t in ladder]
    return json_response({"items": items})


@routes.post("/tiers", body=TierBody, status=201, response=Tier, errors=LADDER_ERRORS)
@allow(*STAFF)
async def create_tier(request: web.Request, body: TierBody) -> web.Response:
    """Add a tier; the whole ladder must still keep every rule."""
    tier = await tier_ladder.create_tier(current_operator(request), body.model_dump())
    return json_response(tier_ladder.public_tier(tier), status=201)


@routes.get("/tiers/{tier_id}", response=Tier, errors=("tier_not_found",))
@allow(*STAFF)
async def get_tier(request: web.Request, tier_id: int) -> web.Response:
    """One tier."""
    tier = await tier_ladder.get_tier(tier_id)
    return json_response(tier_ladder.public_tier(tier))


@routes.put(
    "/tiers/{tier_id}", body=TierBody, response=Tier, errors=("tier_not_found", *LADDER_ERRORS)
)
@allow(*STAFF)
async def replace_tier(request: web.Request, tier_id: int, body: TierBody) -> web.Response:
    """Replace every field of a tier; members' cards are redrawn if its face changed."""
    tier = await tier_ladder.update_tier(current_operator(request), tier_id, body.model_dump())
    return json_response(tier_ladder.public_tier(tier))


@routes.patch(
    "/tiers/{tier_id}", body=TierPatchBody, response=Tier, errors=("tier_not_found", *LADDER_ERRORS)
)
@allow(*STAFF)
async def patch_tier(request: web.Request, tier_id: int, body: TierPatchBody) -> web.Response:
    """Change the fields sent; members' cards are redrawn if the tier's face changed."""
    values = body.model_dump(exclude_unset=True)
    tier = await tier_ladder.update_tier(current_operator(request), tier_id, values)
    return json_response(tier_ladder.public_tier(tier))


@routes.delete(
    "/tiers/{tier_id}", status=204, errors=("tier_not_found", "tier_in_use", *LADDER_ERRORS)
)
@allow(*STAFF)
async def delete_tier(request: web.Request, tier_id: int) -> web.Response:
    """Remove a tier nobody holds."""
    await tier_ladder.delete_tier(current_operator(request), tier_id)
    return web.Response(status=204)


@routes.put(
    "/members/{member_id}/tier",
    body=MoveBody,
    response=TierChangeAnswer,
    errors=("member_not_found", "card_required", "tier_not_found", "already_in_tier"),
)
@allow(*STAFF)
async def move_member(request: web.Request, member_id: int, body: MoveBody) -> web.Response:
    """Put a member in a tier, up or down (audited; the card is redrawn)."""
    services = request.config_dict[keys.SERVICES]
    change = await tiers.move_member(
        services, current_operator(request), member_id, body.tier_id, note=body.note
    )
    return json_response(_change_public(change))


@routes.get("/tier-changes", query=ChangesQuery, response=TierChangePage)
@allow(*STAFF)
async def tier_changes(request: web.Request, query: ChangesQuery) -> web.Response:
    """Tier history, newest first, of every member or one."""
    rows = await tiers.tier_changes(query.member_id, query.cursor, query.limit)
    items = [_change_public(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], query.limit))


@routes.get("/tier-evaluations", query=Page, response=EvaluationRunPage)
@allow(*STAFF)
async def evaluation_runs(request: web.Request, query: Page) -> web.Response:
    """Evaluation runs, newest first."""
    rows = await tiers.evaluation_runs(query.cursor, query.limit)
    items = [_run_public(run) for run in rows]
    return json_response(page_body(items, [run.id for run in rows], query.limit))
