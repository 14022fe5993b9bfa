"""The member card's wallet sync: every `wallet_sync.interval_seconds`, send the members' cards
whose points, tier or coupons changed (handlers/wallet_card/wallet_sync.py).

A run takes batches while they come back full, for at most `RUN_SHARE` of the interval, and
leaves the rest to the next run: a backlog (a campaign's points for every card holder) is
worked through run after run instead of by one run outlasting its slot, which the scheduler
would log as a skipped run every interval.
"""

from __future__ import annotations

import logging
from time import monotonic

from apscheduler.triggers.interval import IntervalTrigger

from handlers.wallet_card.wallet_sync import send_due
from jobs.base import JobContext, job
from wxmember.core.config import Config

log = logging.getLogger(__name__)

RUN_SHARE = 0.8


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
    """Send the due cards, a batch at a time, while this process leads and the run has time."""
    ends = monotonic() + RUN_SHARE * ctx.services.config.wallet_sync.interval_seconds

    async def stop() -> bool:
        return monotonic() >= ends or await ctx.should_stop()

    summary = await send_due(ctx.services, should_stop=stop)
    if summary.claimed:
        log.info(
            "wallet cards sent",
            extra={"claimed": summary.claimed, "outcomes": dict(summary.outcomes)},
        )
