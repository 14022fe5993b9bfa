"""Campaigns as operators draft them: what to give and say, to which saved segment (audited).

A draft is checked whole on every write: at least one action (a coupon template, points, a
message); a message names its channel, template and mapping (checked like a reminder's,
handlers/campaigns/message.py), and an Official Account template message the mini-program page
it opens; the coupon template and the segment exist. Only drafts are edited or deleted: once
launched, what a campaign does is fixed (handlers/campaigns/lifecycle.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from tortoise.backends.base.client import BaseDBAsyncClient

from handlers import audit
from handlers.campaigns.holdout import new_salt
from handlers.campaigns.message import check_message
from handlers.coupons.templates import grantable
from handlers.messaging.templates import Page, TemplateId, TemplateMapping, mapping_input
from wxmember.core.context import Services
from wxmember.core.errors import (
    CampaignNotFound,
    CampaignWrongState,
    SegmentNotFound,
    ValidationFailed,
)
from wxmember.core.inputs import Body, CleanText, Id, MaybeId
from wxmember.core.kernel import continue_after, transaction
from wxmember.core.models import Operator
from wxmember.core.models.campaigns import Campaign, CampaignState
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.reminders import Channel
from wxmember.core.models.saved_segments import SavedSegment

MAX_POINTS = 100_000
MAX_HOLDOUT_PERCENT = 50

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), CleanText
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]
Points = Annotated[int | None, Field(strict=True, ge=1, le=MAX_POINTS)]
HoldoutPercent = Annotated[int, Field(strict=True, ge=0, le=MAX_HOLDOUT_PERCENT)]


class CampaignCreate(Body):
    """A new draft: its segment, what it gives (coupon, points) and says (a message)."""

    name: Name
    description: Description = ""
    segment_id: Id
    coupon_template_id: MaybeId = None
    points: Points = None
    channel: Channel | None = None
    template_id: TemplateId | None = None
    mapping: TemplateMapping | None = None
    page: Page | None = None
    holdout_percent: HoldoutPercent = 10


class CampaignPatch(Body):
    """Any field of a draft; the actions and `page` may be set to null."""

    name: Name | None = None
    description: Description | None = None
    segment_id: MaybeId = None
    coupon_template_id: MaybeId = None
    points: Points = None
    channel: Channel | None = None
    template_id: TemplateId | None = None
    mapping: TemplateMapping | None = None
    page: Page | None = None
    holdout_percent: Annotated[int | None, Field(strict=True, ge=0, le=MAX_HOLDOUT_PERCENT)] = None


_NULLABLE = {"coupon_template_id", "points", "channel", "template_id", "mapping", "page"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    """A campaign as operators see it (and as the audit log records it)."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "segment_id": campaign.segment_id,
        "segment_name": campaign.segment_name,
        "state": CampaignState(campaign.state).value,
        "coupon_template_id": campaign.coupon_template_id,
        "points": campaign.points,
        "channel": Channel(campaign.channel).value if campaign.channel else None,
        "template_id": campaign.template_id,
        "mapping": campaign.mapping or None,
        "page": campaign.page,
        "holdout_percent": campaign.holdout_percent,
        "start_at": _iso(campaign.start_at),
        "launched_at": _iso(campaign.launched_at),
        "started_at": _iso(campaign.started_at),
        "frozen_at": _iso(campaign.frozen_at),
        "finished_at": _iso(campaign.finished_at),
        "recipients": campaign.recipients,
        "held_out": campaign.held_out,
        "version": campaign.version,
        "created_at": _iso(campaign.created_at),
        "updated_at": _iso(campaign.updated_at),
    }


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code)


async def _checked(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The draft's columns after checking it as a whole at `now`."""
    coupon_id, points, channel = values["coupon_template_id"], values["points"], values["channel"]
    message = (channel, values["template_id"], values["mapping"])
    if coupon_id is None and points is None and channel is None:
        raise _refuse("no_action", "A campaign gives a coupon or points, or sends a message.")
    if any(part is not None for part in message) and any(part is None for part in message):
        raise _refuse(
            "incomplete_message", "A message needs channel, template_id and mapping together."
        )
    mapping: dict[str, Any] = {}
    if channel is not None:
        channel = Channel(channel)
        if channel is Channel.OFFICIAL_TEMPLATE and not values.get("page"):
            raise _refuse(
                "page_required",
                "page: an Official Account template message opens a mini-program page; name it.",
            )
        mapping = check_message(
            values["mapping"],
            channel,
            gives_coupon=coupon_id is not None,
            gives_points=points is not None,
        )
    if (
        coupon_id is not None
        and not await CouponTemplate.filter(grantable(now), id=coupon_id).exists()
    ):
        raise _refuse(
            "invalid_coupon_template",
            "coupon_template_id: no such coupon template, or it can no longer be given "
            "(stopped, sold out or expired).",
        )
    segment_id = values["segment_id"]
    segment = await SavedSegment.get_or_none(id=segment_id) if segment_id is not None else None
    if segment is None:
        raise SegmentNotFound()
    return {
        "name": values["name"],
        "description": values["description"],
        "segment_id": segment.id,
        "segment_name": segment.name,
        "coupon_template_id": coupon_id,
        "points": points,
        "channel": channel,
        "template_id": values["template_id"] if channel is not None else None,
        "mapping": mapping,
        "page": values.get("page") if channel is not None else None,
        "holdout_percent": values["holdout_percent"],
    }


async def create_campaign(services: Services, actor: Operator, data: CampaignCreate) -> Campaign:
    """Draft a campaign (audited); nothing happens until it is launched."""
    mapping = mapping_input(data.mapping) if data.mapping is not None else None
    values = data.model_dump(exclude={"mapping"}) | {"mapping": mapping}
    now = services.clock.now()
    columns = await _checked(values, now)
    async with transaction() as conn:
        campaign = await Campaign.create(
            **columns,
            salt=new_salt(),
            created_by=actor,
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await audit.record(
            actor,
            "campaign.create",
            "campaign",
            campaign.id,
            after=campaign_view(campaign),
            using_db=conn,
        )
    return campaign


async def get_campaign(campaign_id: int) -> Campaign:
    """One campaign; NotFound `campaign_not_found`."""
    campaign = await Campaign.get_or_none(id=campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


async def list_campaigns(
    after_id: int | None, limit: int, state: CampaignState | None = None
) -> list[Campaign]:
    """Campaigns newest first (optionally in one state), `limit + 1` rows for paging."""
    query = Campaign.all() if state is None else Campaign.filter(state=state)
    return await continue_after(query.order_by("-id"), after_id).limit(limit + 1)


def require_state(campaign: Campaign, *allowed: CampaignState) -> None:
    """Conflict `campaign_wrong_state` unless the campaign is in one of `allowed`."""
    if campaign.state not in allowed:
        raise CampaignWrongState(
            f"The campaign is {campaign.state}; this needs it "
            + " or ".join(state.value for state in allowed)
            + ".",
            details={"state": str(campaign.state), "allowed": [str(s) for s in allowed]},
        )


async def lock_campaign(
    conn: BaseDBAsyncClient, campaign_id: int, *allowed: CampaignState
) -> Campaign:
    """The campaign's row locked in `conn`'s transaction, in one of the `allowed` states."""
    campaign = await Campaign.select_for_update().using_db(conn).get_or_none(id=campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    require_state(campaign, *allowed)
    return campaign


def _as_input(campaign: Campaign) -> dict[str, Any]:
    view = campaign_view(campaign)
    return {key: view[key] for key in CampaignCreate.model_fields}


async def check_draft(services: Services, campaign: Campaign) -> None:
    """Check a draft again as a whole (before launch: its coupon template or segment may have
    gone since it was written)."""
    await _checked(_as_input(campaign), services.clock.now())


async def update_campaign(
    services: Services, actor: Operator, campaign_id: int, patch: CampaignPatch
) -> Campaign:
    """Change a draft (audited); the whole draft is checked again."""
    changes = {
        name: getattr(patch, name)
        for name in patch.model_fields_set
        if getattr(patch, name) is not None or name in _NULLABLE
    }
    if "mapping" in changes:
        changes["mapping"] = mapping_input(patch.mapping) if patch.mapping is not None else None
    async with transaction() as conn:
        campaign = await lock_campaign(conn, campaign_id, CampaignState.DRAFT)
        before = campaign_view(campaign)
        columns = await _checked(_as_input(campaign) | changes, services.clock.now())
        campaign.update_from_dict(columns)
        campaign.version += 1
        campaign.updated_at = services.clock.now()
        await campaign.save(using_db=conn)
        await audit.record(
            actor,
            "campaign.update",
            "campaign",
            campaign.id,
            before=before,
            after=campaign_view(campaign),
            using_db=conn,
        )
    return campaign


async def delete_campaign(actor: Operator, campaign_id: int) -> Campaign:
    """Delete a draft (audited); a launched campaign is cancelled instead, never deleted."""
    async with transaction() as conn:
        campaign = await lock_campaign(conn, campaign_id, CampaignState.DRAFT)
        before = campaign_view(campaign)
        await Campaign.filter(id=campaign.id).using_db(conn).delete()
        await audit.record(
            actor, "campaign.delete", "campaign", campaign_id, before=before, using_db=conn
        )
    return campaign
