"""Retention: housekeeping rows deleted in batches once they have outlived their lifetime.

Each kind's lifetime is a key of `[retention]` in days, 0 keeping the kind for ever:

- `reminder_deliveries_days`: reminder deliveries whose occasion is over for good that many
  days ago. A row is also what keeps its reminder from going out twice, so which rows may go is
  decided in handlers/reminders/horizon.py, which also stops a rule being run for a day whose
  rows may be gone.
- `campaign_deliveries_days`: the settled delivery rows of a campaign that finished or was
  cancelled that many days ago. An ended campaign never runs again and records its members only
  while it runs, so its unique (campaign, member) rows guard nothing any more; the campaign row
  keeps its counts (recipients, held out), the per-member results and export go with the rows.
- `audit_days`: operator audit rows older than that (0 or at least six months).
- `import_problems_days`: the refused rows of a member import finished that many days ago (the
  import keeps its counts).
- `wallet_card_events_days`: the pushes about members' cards in the WeChat wallet (added,
  deleted, opened, …) older than that. The holder row keeps the card's state and the times of
  its last add and delete, which is all the service decides on; the events are history.

Kept for ever: the points ledger and lots, growth entries, coupons, mall orders, purchases and
refunds, tier history, referrals: they are records, and their idempotency keys live on them (the
ledgers', on PostgreSQL, in their registries: wxmember/core/partitioning.py). The ledgers and
check-ins are archived a month at a time instead (`wxmember partitions`).

Every kind is deleted a batch at a time (`retention.batch_size`): the ids of one batch are read
through an index and deleted by one statement that repeats the kind's condition, committed on its
own, so no long transaction holds locks and a row that stopped qualifying stays. A run asks
`should_stop` before each batch; a stopped run has deleted only whole batches and the next run
carries on, as any run finds what is due afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from tortoise.expressions import Q
from tortoise.models import Model

from handlers.reminders.horizon import horizon, prunable
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.member_imports import ImportStatus, MemberImport, MemberImportProblem
from wxmember.core.models.reminders import FINAL_STATES, ReminderDelivery
from wxmember.core.models.wallet_card import WalletCardEvent

log = logging.getLogger(__name__)

ShouldStop = Callable[[], Awaitable[bool]]
KINDS = (
    "reminder_deliveries",
    "campaign_deliveries",
    "audit_log",
    "import_problems",
    "wallet_card_events",
)


class _Stopped(Exception):
    """`should_stop` said so between two batches."""


@dataclass
class PruneReport:
    """Rows deleted per kind, and whether the run was stopped before it was done."""

    pruned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    stopped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**self.pruned, "stopped": self.stopped}


async def _never() -> bool:
    return False


class _Pruner:
    """Deletes batches of one model's rows and counts them into the report."""

    def __init__(self, services: Services, report: PruneReport, should_stop: ShouldStop) -> None:
        self.batch = services.config.retention.batch_size
        self.report = report
        self.should_stop = should_stop

    async def drain(self, kind: str, model: type[Model], where: Q, order: str | None = None) -> int:
        """Delete every row of `model` matching `where`, a batch at a time; how many."""
        total = 0
        while True:
            if await self.should_stop():
                raise _Stopped
            query = model.filter(where).limit(self.batch)
            if order is not None:
                query = query.order_by(order)
            ids = await query.values_list("id", flat=True)
            if not ids:
                return total
            deleted = await model.filter(where, id__in=list(ids)).delete()
            total += deleted
            self.report.pruned[kind] += deleted
            if len(ids) < self.batch:
                return total


async def _reminder_deliveries(services: Services, pruner: _Pruner) -> None:
    first_kept = horizon(services)
    if first_kept is None:
        return
    where = prunable(first_kept)
    # One send day at a time, oldest first: within a day the (day, ...) index finds the rows,
    # and rows that must stay are passed over once per run, not once per batch.
    after: date | None = None
    while True:
        query = ReminderDelivery.filter(where)
        if after is not None:
            query = query.filter(day__gt=after)
        days = await query.order_by("day").limit(1).values_list("day", flat=True)
        if not days:
            return
        day = cast(date, days[0])
        await pruner.drain("reminder_deliveries", ReminderDelivery, Q(where, day=day))
        after = day


async def _campaign_deliveries(services: Services, pruner: _Pruner) -> None:
    days = services.config.retention.campaign_deliveries_days
    if days == 0:
        return
    ended_before = services.clock.now() - timedelta(days=days)
    campaign_ids = await (
        Campaign.filter(
            state__in=[CampaignState.FINISHED, CampaignState.CANCELLED],
            finished_at__lt=ended_before,
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    for campaign_id in campaign_ids:
        where = Q(campaign_id=campaign_id, state__in=list(FINAL_STATES))
        await pruner.drain("campaign_deliveries", CampaignDelivery, where)


async def _audit_log(services: Services, pruner: _Pruner) -> None:
    days = services.config.retention.audit_days
    if days == 0:
        return
    before = services.clock.now() - timedelta(days=days)
    await pruner.drain("audit_log", AuditEntry, Q(created_at__lt=before), order="created_at")


async def _import_problems(services: Services, pruner: _Pruner) -> None:
    days = services.config.retention.import_problems_days
    if days == 0:
        return
    finished_before = services.clock.now() - timedelta(days=days)
    import_ids = await (
        MemberImport.filter(status=ImportStatus.FINISHED, finished_at__lt=finished_before)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for import_id in import_ids:
        where = Q(member_import_id=import_id)
        await pruner.drain("import_problems", MemberImportProblem, where)


async def _wallet_card_events(services: Services, pruner: _Pruner) -> None:
    days = services.config.retention.wallet_card_events_days
    if days == 0:
        return
    before = services.clock.now() - timedelta(days=days)
    # ids grow with time: the oldest rows are the first of the primary key
    where = Q(created_at__lt=before)
    await pruner.drain("wallet_card_events", WalletCardEvent, where, order="id")


_STEPS = (
    _reminder_deliveries,
    _campaign_deliveries,
    _audit_log,
    _import_problems,
    _wallet_card_events,
)


async def prune(services: Services, *, should_stop: ShouldStop | None = None) -> PruneReport:
    """Delete every housekeeping row past its lifetime, kind by kind; what was deleted."""
    report = PruneReport()
    pruner = _Pruner(services, report, should_stop or _never)
    try:
        for step in _STEPS:
            await step(services, pruner)
    except _Stopped:
        report.stopped = True
    return report
