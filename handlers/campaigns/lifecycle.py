"""A campaign's life as operators drive it: preview, launch, pause, resume, cancel (audited).

    draft --launch--> scheduled --start_at (scheduler)--> running --all settled--> finished
                          |  ^                              |  ^
                        pause resume                     pause resume
                          v  |                              v  |
                          paused  ------------------------  paused
    scheduled / running / paused --cancel--> cancelled

Launching copies the segment's filter into the campaign: editing or deleting the saved segment
afterwards changes nothing. The members themselves are recorded when the campaign starts
(handlers/campaigns/run.py). Each move is one conditional change of the locked row, so a second
launch, or a pause racing the scheduler, finds the state moved and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers import audit
from handlers.campaigns.definitions import (
    campaign_view,
    check_draft,
    get_campaign,
    lock_campaign,
    require_state,
)
from handlers.campaigns.holdout import held_out
from handlers.campaigns.message import render
from handlers.coupons.codes import validity_for
from handlers.segments import saved
from handlers.segments.criteria import Criteria
from wxmember.core.context import Services
from wxmember.core.errors import SegmentNotFound
from wxmember.core.inputs import Body, LocalMoment
from wxmember.core.kernel import transaction
from wxmember.core.models import Member, Operator
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.coupons import Coupon, CouponTemplate
from wxmember.core.models.reminders import Channel, DeliveryState

PREVIEW_MESSAGES = 3


class CampaignLaunch(Body):
    """When to start: a moment (with its offset, or the brand's local time); now when absent
    or already past."""

    start_at: LocalMoment | None = None


async def _move(
    actor: Operator,
    campaign_id: int,
    action: str,
    allowed: tuple[CampaignState, ...],
    change: dict[str, Any] | Callable[[Campaign], dict[str, Any]],
    now: datetime,
) -> Campaign:
    async with transaction() as conn:
        campaign = await lock_campaign(conn, campaign_id, *allowed)
        before = campaign_view(campaign)
        values = change(campaign) if callable(change) else change
        campaign.update_from_dict(values)
        campaign.version += 1
        campaign.updated_at = now
        await campaign.save(using_db=conn)
        if campaign.state == CampaignState.CANCELLED:
            await (
                CampaignDelivery.filter(campaign_id=campaign.id, state=DeliveryState.CLAIMED)
                .using_db(conn)
                .update(
                    state=DeliveryState.SKIPPED, reason="cancelled", finished_at=now, updated_at=now
                )
            )
        await audit.record(
            actor,
            f"campaign.{action}",
            "campaign",
            campaign.id,
            before=before,
            after=campaign_view(campaign),
            using_db=conn,
        )
    return campaign


async def launch(
    services: Services, actor: Operator, campaign_id: int, start_at: datetime | None
) -> Campaign:
    """Launch a draft: its segment's filter is copied, it starts at `start_at` (now by default).

    Conflict `campaign_wrong_state` for anything but a draft: a second launch changes nothing.
    """
    now = services.clock.now()
    if start_at is not None and start_at.tzinfo is None:
        start_at = start_at.replace(tzinfo=services.config.brand.tz)
    start = max(start_at, now) if start_at is not None else now
    campaign = await get_campaign(campaign_id)
    require_state(campaign, CampaignState.DRAFT)
    await check_draft(services, campaign)
    segment = await saved.get_segment(campaign.segment_id or 0)

    def change(_: Campaign) -> dict[str, Any]:
        return {
            "state": CampaignState.SCHEDULED,
            "criteria": segment.criteria,
            "segment_name": segment.name,
            "start_at": start,
            "launched_at": now,
        }

    return await _move(actor, campaign_id, "launch", (CampaignState.DRAFT,), change, now)


async def pause(services: Services, actor: Operator, campaign_id: int) -> Campaign:
    """Stop sending (and recording members) until resumed; what is in flight finishes."""
    allowed = (CampaignState.SCHEDULED, CampaignState.RUNNING)
    change = {"state": CampaignState.PAUSED}
    return await _move(actor, campaign_id, "pause", allowed, change, services.clock.now())


async def resume(services: Services, actor: Operator, campaign_id: int) -> Campaign:
    """Go on where the campaign was paused (running if it had started, else scheduled)."""

    def change(campaign: Campaign) -> dict[str, Any]:
        started = campaign.started_at is not None
        return {"state": CampaignState.RUNNING if started else CampaignState.SCHEDULED}

    now = services.clock.now()
    return await _move(actor, campaign_id, "resume", (CampaignState.PAUSED,), change, now)


async def cancel(services: Services, actor: Operator, campaign_id: int) -> Campaign:
    """End the campaign for good: members not reached yet are settled as skipped `cancelled`.

    What was given and sent stays; a message already on its way finishes.
    """
    now = services.clock.now()
    allowed = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)
    change = {"state": CampaignState.CANCELLED, "finished_at": now}
    return await _move(actor, campaign_id, "cancel", allowed, change, now)


async def preview(services: Services, campaign: Campaign) -> dict[str, Any]:
    """Before launch: how many members the segment selects now, about how many would be held
    out, and the message as the first few of them would receive it (nothing is given)."""
    criteria = Criteria.model_validate(campaign.criteria)
    if campaign.state == CampaignState.DRAFT:
        if campaign.segment_id is None:
            raise SegmentNotFound("The campaign's saved segment was deleted; choose another.")
        criteria = saved.criteria_of(await saved.get_segment(campaign.segment_id))
    members = await saved.count(services, criteria)
    held = round(members * campaign.holdout_percent / 100)
    messages: list[dict[str, Any]] = []
    if campaign.channel is not None:
        messages = await _sample_messages(services, campaign, criteria)
    return {
        "campaign_id": campaign.id,
        "members": members,
        "holdout": held,
        "recipients": members - held,
        "messages": messages,
    }


async def _sample_messages(
    services: Services, campaign: Campaign, criteria: Criteria
) -> list[dict[str, Any]]:
    now = services.clock.now()
    coupon = None
    if campaign.coupon_template_id is not None:
        template = await CouponTemplate.get_or_none(id=campaign.coupon_template_id)
        if template is not None:
            # What the member would hold: an example code, validity from now.
            _, until = validity_for(template, now, services.config.brand.tz)
            coupon = Coupon(code="PREVIEWCODE0", template=template, valid_until=until)
    sampled = await saved.sample(services, criteria, limit=PREVIEW_MESSAGES * 4)
    rendered = []
    for found in sampled:
        if held_out(campaign.salt, found["id"], campaign.holdout_percent):
            continue
        member = await Member.filter(id=found["id"]).select_related("tier").get()
        member.points_balance += campaign.points or 0  # the balance after the gift
        channel = Channel(campaign.channel)
        data = render(services, campaign.mapping, channel, member, campaign.points, coupon, now)
        rendered.append({"card_no": member.card_no, "data": data})
        if len(rendered) == PREVIEW_MESSAGES:
            break
    return rendered
