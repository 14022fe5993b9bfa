"""The member card's wallet sync: every `wallet_sync.interval_seconds`, send the members' cards
whose points, tier or coupons changed (handlers/wallet_card/wallet_sync.py)."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from handlers.wallet_card.wallet_sync import send_due
from jobs.base import JobContext, job
from wxmember.core.config import Config

log = logging.getLogger(__name__)


def every_interval(config: Config) -> IntervalTrigger:
    return IntervalTrigger(seconds=config.wallet_sync.interval_seconds, timezone=config.brand.tz)


@job(
    id="wallet_card.sync",
    trigger=every_interval,
    coalesce=True,
    max_instances=1,
    misfire_grace_time=None,
)
async def sync_wallet_cards(ctx: JobContext) -> None:
    """Send the due cards, a batch at a time, while this process leads."""
    summary = await send_due(ctx.services, should_stop=ctx.should_stop)
    if summary.claimed:
        log.info(
            "wallet cards sent",
            extra={"claimed": summary.claimed, "outcomes": dict(summary.outcomes)},
        )
