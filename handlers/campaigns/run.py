"""Running campaigns: start those due, record their members, reach each member once.

The scheduler calls `run_due_campaigns` every few seconds (jobs/campaigns.py), under its
leader lease; every step is also safe when two runs overlap:

- Start: scheduled -> running by a conditional update once `start_at` has come.
- Record (freeze): the segment's filter, copied at launch, is run over ranges of member ids
  (handlers/segments/saved.py); each range's rows are inserted in the transaction that moves
  `frozen_after` past the range, conditional on its old value and on the campaign running, so a
  range is recorded once, a crash resumes after the last recorded range, and a pause stops it.
  Held-out members (handlers/campaigns/holdout.py) are recorded already settled: skipped
  `holdout`.
- Deliver, per claimed row while the campaign runs: the coupon and the points, each under an
  idempotency key of the campaign and member (a repeat after a crash returns the first); a
  refused gift (sold out) fails the row and sends nothing; then the message, rendered now, at
  most once and paced with the reminders' shared budget (handlers/messaging/).
- Finish: running -> finished once every member is recorded and no row is left to deliver.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from tortoise.expressions import F

from handlers import points
from handlers.campaigns.holdout import held_out
from handlers.campaigns.message import render
from handlers.coupons.issuing import issue_coupon
from handlers.messaging import recipient, recover_stale, send_message, settle, skip
from handlers.messaging.pacing import SendPacer
from handlers.segments.criteria import Criteria
from handlers.segments.saved import member_id_ranges
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.kernel import transaction
from wxmember.core.models import Member
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.reminders import Channel, DeliveryState

log = logging.getLogger(__name__)

ShouldStop = Callable[[], Awaitable[bool]]
GIFT_REASON = "campaign"
RANGE_SIZE = 5000


def gift_key(campaign_id: int, member_id: int, gift: str) -> str:
    """The idempotency key of a campaign's coupon or points for one member."""
    return f"campaign:{campaign_id}:{member_id}:{gift}"


async def run_due_campaigns(
    services: Services, *, pacer: SendPacer, should_stop: ShouldStop | None = None
) -> Counter[str]:
    """Start the campaigns due, then record and deliver every running one; outcome counts."""
    now = services.clock.now()
    due = Campaign.filter(state=CampaignState.SCHEDULED, start_at__lte=now)
    for campaign_id in await due.values_list("id", flat=True):
        started = await Campaign.filter(id=campaign_id, state=CampaignState.SCHEDULED).update(
            state=CampaignState.RUNNING, started_at=now, updated_at=now
        )
        if started:
            log.info("campaign started", extra={"campaign": campaign_id})
    await recover_stale(services, CampaignDelivery)
    outcomes: Counter[str] = Counter()
    for campaign in await Campaign.filter(state=CampaignState.RUNNING).order_by("id"):
        if campaign.frozen_at is None and not await record_members(services, campaign, should_stop):
            continue
        outcomes += await deliver_campaign(services, campaign, pacer, should_stop)
        await _finish_if_done(services, campaign)
    return outcomes


async def record_members(
    services: Services, campaign: Campaign, should_stop: ShouldStop | None = None
) -> bool:
    """Record the campaign's members range by range from where recording stopped; True once
    every range is recorded, False when stopped, paused or another run holds the range."""
    criteria = Criteria.model_validate(campaign.criteria)
    async for high, ids in member_id_ranges(
        services, criteria, after=campaign.frozen_after, batch=RANGE_SIZE
    ):
        if not await _record_range(services, campaign, high, ids):
            return False
        if should_stop is not None and await should_stop():
            return False
    now = services.clock.now()
    await Campaign.filter(id=campaign.id, frozen_at__isnull=True).update(
        frozen_at=now, updated_at=now
    )
    campaign.frozen_at = now
    log.info(
        "campaign members recorded",
        extra={"campaign": campaign.id, "treated": campaign.recipients, "held": campaign.held_out},
    )
    return True


async def _record_range(services: Services, campaign: Campaign, high: int, ids: list[int]) -> bool:
    now = services.clock.now()
    rows = [_delivery_row(campaign, member_id, now) for member_id in ids]
    held = sum(row.holdout for row in rows)
    async with transaction() as conn:
        moved = (
            await Campaign.filter(
                id=campaign.id, state=CampaignState.RUNNING, frozen_after=campaign.frozen_after
            )
            .using_db(conn)
            .update(
                frozen_after=high,
                recipients=F("recipients") + (len(rows) - held),
                held_out=F("held_out") + held,
                updated_at=now,
            )
        )
        if moved != 1:
            return False
        if rows:
            await CampaignDelivery.bulk_create(rows, using_db=conn)
    campaign.frozen_after = high
    campaign.recipients += len(rows) - held
    campaign.held_out += held
    return True


def _delivery_row(campaign: Campaign, member_id: int, now: datetime) -> CampaignDelivery:
    holdout = held_out(campaign.salt, member_id, campaign.holdout_percent)
    return CampaignDelivery(
        campaign_id=campaign.id,
        member_id=member_id,
        holdout=holdout,
        channel=campaign.channel,
        template_id=campaign.template_id,
        page=campaign.page,
        state=DeliveryState.SKIPPED if holdout else DeliveryState.CLAIMED,
        reason="holdout" if holdout else None,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        finished_at=now if holdout else None,
    )


async def _running(campaign_id: int) -> bool:
    return await Campaign.exists(id=campaign_id, state=CampaignState.RUNNING)


async def deliver_campaign(
    services: Services,
    campaign: Campaign,
    pacer: SendPacer,
    should_stop: ShouldStop | None = None,
) -> Counter[str]:
    """Deliver every claimed row of the campaign that is due, while it runs; outcome counts.

    The campaign's state is read again before each member, so a pause or a cancel takes
    effect within one send.
    """
    outcomes: Counter[str] = Counter()
    batch = services.config.reminders.batch_size
    after = 0
    while True:
        rows = (
            await CampaignDelivery.filter(
                campaign_id=campaign.id,
                state=DeliveryState.CLAIMED,
                next_attempt_at__lte=services.clock.now(),
                id__gt=after,
            )
            .order_by("id")
            .limit(batch)
        )
        for row in rows:
            if should_stop is not None and await should_stop():
                return outcomes
            if not await _running(campaign.id):
                return outcomes
            outcomes[await deliver(services, campaign, row, pacer)] += 1
        if len(rows) < batch:
            return outcomes
        after = rows[-1].id


async def deliver(
    services: Services, campaign: Campaign, row: CampaignDelivery, pacer: SendPacer
) -> str:
    """Take one claimed row through to its outcome; the state it ends in ("lost" if taken)."""
    now = services.clock.now()
    if not await CampaignDelivery.exists(id=row.id, state=DeliveryState.CLAIMED):
        return "lost"  # settled since it was read: cancelled, or taken by another run
    member = await Member.filter(id=row.member_id).select_related("tier").first()
    if member is None or member.deleted_at is not None:
        return await skip(row, now, "member_deleted")
    try:
        coupon = await _give_coupon(services, campaign, row)
        await _give_points(services, campaign, row)
    except DomainError as exc:
        log.warning("campaign gift refused", extra={"delivery": row.id, "code": exc.code})
        await CampaignDelivery.filter(id=row.id).update(gift_error=exc.code[:48])
        reason = f"gift_refused:{exc.code}"[:48]
        if await settle(row, DeliveryState.CLAIMED, DeliveryState.FAILED, now, reason=reason):
            return DeliveryState.FAILED
        return "lost"
    if campaign.channel is None:
        if await settle(row, DeliveryState.CLAIMED, DeliveryState.SENT, now):
            return DeliveryState.SENT
        return "lost"
    channel = Channel(campaign.channel)
    openid, why_not = await recipient(channel, member)
    if openid is None:
        return await skip(row, now, why_not or "no_openid")
    await member.refresh_from_db(fields=["points_balance"])
    row.payload = render(services, campaign.mapping, channel, member, campaign.points, coupon, now)
    await CampaignDelivery.filter(id=row.id, state=DeliveryState.CLAIMED).update(
        payload=row.payload
    )
    return await send_message(services, row, openid, pacer, "campaign message")


async def _give_coupon(
    services: Services, campaign: Campaign, row: CampaignDelivery
) -> Coupon | None:
    if campaign.coupon_template_id is None:
        return None
    if row.coupon_id is not None:
        return await Coupon.get(id=row.coupon_id).prefetch_related("template")
    member_id: int = row.member_id
    coupon = await issue_coupon(
        services,
        member_id,
        campaign.coupon_template_id,
        reason=GIFT_REASON,
        idempotency_key=gift_key(campaign.id, member_id, "coupon"),
    )
    await CampaignDelivery.filter(id=row.id).update(coupon_id=coupon.id)
    row.coupon_id = coupon.id
    await coupon.fetch_related("template")
    return coupon


async def _give_points(services: Services, campaign: Campaign, row: CampaignDelivery) -> None:
    if campaign.points is None or row.points_entry_id is not None:
        return
    member_id: int = row.member_id
    entry = await points.earn(
        services,
        member_id,
        campaign.points,
        reason=GIFT_REASON,
        idempotency_key=gift_key(campaign.id, member_id, "points"),
        reference=f"campaign:{campaign.id}",
    )
    await CampaignDelivery.filter(id=row.id).update(points_entry_id=entry.id)
    row.points_entry_id = entry.id


async def _finish_if_done(services: Services, campaign: Campaign) -> None:
    if campaign.frozen_at is None:
        return
    waiting = CampaignDelivery.filter(
        campaign_id=campaign.id, state__in=(DeliveryState.CLAIMED, DeliveryState.SENDING)
    )
    if await waiting.exists():
        return
    now = services.clock.now()
    finished = await Campaign.filter(id=campaign.id, state=CampaignState.RUNNING).update(
        state=CampaignState.FINISHED, finished_at=now, updated_at=now
    )
    if finished:
        log.info("campaign finished", extra={"campaign": campaign.id})
