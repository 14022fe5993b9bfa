"""Campaigns (营销活动) for owners and operators: draft, preview, launch, pause, resume, cancel,
watch the members reached, and read the results against the holdout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    Campaign,
    CampaignDeleted,
    CampaignDeliveryPage,
    CampaignFields,
    CampaignPage,
    CampaignPreview,
    CampaignResults,
)
from handlers.campaigns import definitions, lifecycle, results
from handlers.campaigns.deliveries import delivery_view, list_deliveries
from handlers.campaigns.message import fields_view
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Flag, Limit, Page
from wxmember.core.models import Operator
from wxmember.core.models.campaigns import Campaign as CampaignRow
from wxmember.core.models.campaigns import CampaignState
from wxmember.core.models.reminders import DeliveryState
from wxmember.core.openapi import Binary
from wxmember.core.web import json_response, page_body

routes = Routes()

DRAFT_ERRORS = (
    "segment_not_found",
    "no_action",
    "incomplete_message",
    "page_required",
    "invalid_coupon_template",
    "invalid_mapping_key",
    "invalid_text",
    "unknown_field",
    "field_type_mismatch",
    "value_too_long",
    "field_without_gift",
)
STATE_ERRORS = ("campaign_not_found", "campaign_wrong_state")


class CampaignsQuery(Page):
    state: CampaignState | None = None


class DeliveriesQuery(Page):
    limit: Limit = 50
    state: DeliveryState | None = None
    holdout: Flag | None = None


@routes.get("/campaigns", query=CampaignsQuery, response=CampaignPage)
@allow(*STAFF)
async def list_campaigns(request: web.Request, query: CampaignsQuery) -> web.Response:
    """Campaigns, newest first, optionally in one state."""
    found = await definitions.list_campaigns(query.cursor, query.limit, query.state)
    views = [definitions.campaign_view(campaign) for campaign in found]
    return json_response(page_body(views, [campaign.id for campaign in found], query.limit))


@routes.get("/campaigns/fields", response=CampaignFields)
@allow(*STAFF)
async def campaign_fields(request: web.Request) -> web.Response:
    """The fields a campaign's message mapping may name."""
    return json_response({"items": fields_view()})


@routes.post(
    "/campaigns",
    body=definitions.CampaignCreate,
    status=201,
    response=Campaign,
    errors=DRAFT_ERRORS,
)
@allow(*STAFF)
async def create_campaign(request: web.Request, body: definitions.CampaignCreate) -> web.Response:
    """Draft a campaign (audited): a saved segment, and a coupon, points and/or a message."""
    services = request.config_dict[keys.SERVICES]
    campaign = await definitions.create_campaign(services, current_operator(request), body)
    return json_response(definitions.campaign_view(campaign), status=201)


@routes.get("/campaigns/{campaign_id}", response=Campaign, errors=("campaign_not_found",))
@allow(*STAFF)
async def get_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """One campaign, with its progress."""
    return json_response(definitions.campaign_view(await definitions.get_campaign(campaign_id)))


@routes.patch(
    "/campaigns/{campaign_id}",
    body=definitions.CampaignPatch,
    response=Campaign,
    errors=(*STATE_ERRORS, *DRAFT_ERRORS),
)
@allow(*STAFF)
async def update_campaign(
    request: web.Request, campaign_id: int, body: definitions.CampaignPatch
) -> web.Response:
    """Change a draft (audited); a launched campaign is fixed."""
    services = request.config_dict[keys.SERVICES]
    campaign = await definitions.update_campaign(
        services, current_operator(request), campaign_id, body
    )
    return json_response(definitions.campaign_view(campaign))


@routes.delete("/campaigns/{campaign_id}", response=CampaignDeleted, errors=STATE_ERRORS)
@allow(*STAFF)
async def delete_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """Delete a draft (audited); a launched campaign is cancelled instead."""
    campaign = await definitions.delete_campaign(current_operator(request), campaign_id)
    return json_response({"id": campaign_id, "name": campaign.name})


@routes.get(
    "/campaigns/{campaign_id}/preview",
    response=CampaignPreview,
    errors=("campaign_not_found", "segment_not_found"),
)
@allow(*STAFF)
async def preview_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """Whom the campaign would reach now (members, about how many held out) and its message
    rendered for the first few of them; nothing is given or sent."""
    services = request.config_dict[keys.SERVICES]
    campaign = await definitions.get_campaign(campaign_id)
    return json_response(await lifecycle.preview(services, campaign))


@routes.post(
    "/campaigns/{campaign_id}/launch",
    body=lifecycle.CampaignLaunch,
    response=Campaign,
    errors=(*STATE_ERRORS, *DRAFT_ERRORS),
)
@allow(*STAFF)
async def launch_campaign(
    request: web.Request, campaign_id: int, body: lifecycle.CampaignLaunch
) -> web.Response:
    """Launch a draft now or at `start_at` (audited). Its segment's members are recorded when
    it starts; a second launch is refused and changes nothing."""
    services = request.config_dict[keys.SERVICES]
    campaign = await lifecycle.launch(
        services, current_operator(request), campaign_id, body.start_at
    )
    return json_response(definitions.campaign_view(campaign))


Move = Callable[[Services, Operator, int], Awaitable[CampaignRow]]


async def _moved(request: web.Request, campaign_id: int, move: Move) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    campaign = await move(services, current_operator(request), campaign_id)
    return json_response(definitions.campaign_view(campaign))


@routes.post("/campaigns/{campaign_id}/pause", response=Campaign, errors=STATE_ERRORS)
@allow(*STAFF)
async def pause_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """Pause a scheduled or running campaign (audited); a message in flight finishes."""
    return await _moved(request, campaign_id, lifecycle.pause)


@routes.post("/campaigns/{campaign_id}/resume", response=Campaign, errors=STATE_ERRORS)
@allow(*STAFF)
async def resume_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """Resume a paused campaign where it stopped (audited)."""
    return await _moved(request, campaign_id, lifecycle.resume)


@routes.post("/campaigns/{campaign_id}/cancel", response=Campaign, errors=STATE_ERRORS)
@allow(*STAFF)
async def cancel_campaign(request: web.Request, campaign_id: int) -> web.Response:
    """Cancel for good (audited): members not reached yet are skipped `cancelled`."""
    return await _moved(request, campaign_id, lifecycle.cancel)


@routes.get(
    "/campaigns/{campaign_id}/deliveries",
    query=DeliveriesQuery,
    response=CampaignDeliveryPage,
    errors=("campaign_not_found",),
)
@allow(*STAFF)
async def campaign_deliveries(
    request: web.Request, campaign_id: int, query: DeliveriesQuery
) -> web.Response:
    """The campaign's recorded members in order: held out or treated, state and reason."""
    await definitions.get_campaign(campaign_id)
    found = await list_deliveries(
        campaign_id,
        state=query.state,
        holdout=query.holdout,
        after_id=query.cursor,
        limit=query.limit,
    )
    views = [delivery_view(row) for row in found]
    return json_response(page_body(views, [row.id for row in found], query.limit))


@routes.get(
    "/campaigns/{campaign_id}/results", response=CampaignResults, errors=("campaign_not_found",)
)
@allow(*STAFF)
async def campaign_results(request: web.Request, campaign_id: int) -> web.Response:
    """Delivered, skipped and failed; coupons redeemed; purchases, amount and purchasers within
    7, 14 and 30 days for the treated and the holdout groups, and their difference with a 95 %
    interval (`method` names the estimators)."""
    services = request.config_dict[keys.SERVICES]
    campaign = await definitions.get_campaign(campaign_id)
    figures = await results.campaign_results(campaign, services.clock.now())
    body = {
        "campaign_id": campaign.id,
        "state": CampaignState(campaign.state).value,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        **figures,
    }
    return json_response(body)


@routes.get(
    "/campaigns/{campaign_id}/results.csv",
    response=Binary("text/csv"),
    errors=("campaign_not_found",),
)
@allow(*STAFF)
async def campaign_results_csv(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """One row per recorded member: card number, group, outcome, coupon, and purchases and
    amount within 30 days of the start (no name, no phone), streamed in batches."""
    campaign = await definitions.get_campaign(campaign_id)
    name = results.csv_filename(campaign)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)
    async for chunk in results.export_csv(campaign):
        await response.write(chunk)
    await response.write_eof()
    return response
