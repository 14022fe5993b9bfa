"""Retention (保级): at a period's evaluation, members below their tier's retention move down.

A member whose growth in the closed period is below their tier's retention threshold moves down
to the highest lower tier whose retention threshold that growth meets, at most
`tiers.max_downgrade_levels` rungs, never below the entry tier. Members whose tier changed after
the period closed (an upgrade on new growth, an operator's move) are left alone: the new period
judges them.

One EvaluationRun row per period makes the evaluation idempotent and resumable: members are
taken in id order, a batch at a time, each batch in one transaction that locks the run row and
the batch's members, applies the downgrades with a few set-based updates and moves the cursor.
A finished period does nothing when run again; an interrupted one resumes after its cursor;
two runners at once share the work batch by batch. Memory is bounded by the batch size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from handlers.tiers.periods import Period, last_closed_period, period_ending
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.localtime import local_midnight, local_today
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models.growth import MemberPeriodGrowth
from wxmember.core.models.members import Member
from wxmember.core.models.tier_history import (
    EvaluationRun,
    EvaluationStatus,
    TierChange,
    TierChangeReason,
)
from wxmember.core.models.tiers import Tier

MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class BatchDone:
    """Progress after one committed batch (what an `on_batch` hook receives)."""

    batch: int
    cursor: int
    checked: int
    downgraded: int


@dataclass
class EvaluationReport:
    """The outcome of an evaluation. Totals cover the whole period, resumed runs included."""

    period_key: str
    period_start: date
    period_end: date
    dry_run: bool
    status: str
    resumed_from: int = 0
    checked: int = 0
    downgraded: int = 0
    skipped: int = 0
    batches: int = 0
    moves: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "period_key": self.period_key,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "dry_run": self.dry_run,
            "status": self.status,
            "resumed_from": self.resumed_from,
            "checked": self.checked,
            "downgraded": self.downgraded,
            "skipped": self.skipped,
            "batches": self.batches,
            "moves": dict(self.moves),
        }


BatchHook = Callable[[BatchDone], Awaitable[None]]


@dataclass(frozen=True)
class _Verdicts:
    checked: int
    skipped: int
    downgrades: dict[int, tuple[Tier, Tier, int]]  # member id -> (from, to, growth)


def _target(ladder: Sequence[Tier], tier: Tier, growth: int, max_levels: int) -> Tier:
    """The tier a member keeps or drops to, given their growth in the closed period."""
    if growth >= tier.retention_threshold:
        return tier
    index = next(i for i, t in enumerate(ladder) if t.id == tier.id)
    lowest = max(0, index - max_levels)
    for candidate in range(index - 1, lowest - 1, -1):
        if ladder[candidate].retention_threshold <= growth:
            return ladder[candidate]
    return ladder[lowest]


async def _judge(
    batch: Sequence[Member],
    ladder: Sequence[Tier],
    period: Period,
    cutoff: datetime,
    max_levels: int,
    conn: BaseDBAsyncClient | None,
) -> _Verdicts:
    if not batch:
        return _Verdicts(0, 0, {})
    ids = [member.id for member in batch]
    sums = await (
        MemberPeriodGrowth.filter(
            member_id__in=ids, period__gte=period.first_month, period__lte=period.last_month
        )
        .using_db(conn)
        .annotate(growth=Sum("total"))
        .group_by("member_id")
        .values_list("member_id", "growth")
    )
    growth = {member_id: int(total or 0) for member_id, total in sums}
    recent = set(
        await TierChange.filter(member_id__in=ids, created_at__gte=cutoff)
        .using_db(conn)
        .distinct()
        .values_list("member_id", flat=True)
    )
    by_id = {tier.id: tier for tier in ladder}
    downgrades: dict[int, tuple[Tier, Tier, int]] = {}
    for member in batch:
        tier = by_id.get(member.tier_id or 0)
        if member.id in recent or tier is None:
            continue
        target = _target(ladder, tier, growth.get(member.id, 0), max_levels)
        if target.id != tier.id:
            downgrades[member.id] = (tier, target, growth.get(member.id, 0))
    return _Verdicts(len(batch) - len(recent), len(recent), downgrades)


async def _apply(
    verdicts: _Verdicts, period: Period, now: datetime, conn: BaseDBAsyncClient
) -> None:
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for member_id, (current, target, _) in verdicts.downgrades.items():
        groups[(current.id, target.id)].append(member_id)
    if not groups:
        return
    changed_everyone()  # a batch of members: one flag rather than a set that grows with it
    for (from_id, to_id), member_ids in groups.items():
        await (
            Member.filter(id__in=member_ids, tier_id=from_id)
            .using_db(conn)
            .update(tier_id=to_id, card_version=F("card_version") + 1)
        )
    await TierChange.bulk_create(
        [
            TierChange(
                member_id=member_id,
                from_tier_id=current.id,
                to_tier_id=target.id,
                from_name=current.name,
                to_name=target.name,
                reason=TierChangeReason.DOWNGRADE,
                growth=growth,
                period_key=period.key,
                created_at=now,
            )
            for member_id, (current, target, growth) in verdicts.downgrades.items()
        ],
        using_db=conn,
    )


def _period(services: Services, period_end: date | None) -> Period:
    kind = services.config.tiers.period
    today = local_today(services)
    if period_end is None:
        period = last_closed_period(kind, today)
    else:
        period = period_ending(kind, period_end)
    if period.end >= today:
        raise ValidationFailed(
            f"The period ending {period.end.isoformat()} has not ended yet.",
            code="period_not_ended",
        )
    return period


async def _open_run(period: Period, now: datetime) -> EvaluationRun:
    run = await EvaluationRun.get_or_none(period_key=period.key)
    if run is not None:
        return run
    try:
        return await EvaluationRun.create(
            period_key=period.key,
            period_start=period.start,
            period_end=period.end,
            started_at=now,
            updated_at=now,
        )
    except IntegrityError:
        return await EvaluationRun.get(period_key=period.key)


async def _candidates(
    ladder: Sequence[Tier], after_id: int, limit: int, conn: BaseDBAsyncClient | None
) -> list[Member]:
    """The next members above the entry tier, in id order (locked when in a transaction)."""
    tier_ids = [tier.id for tier in ladder[1:]]
    if not tier_ids:
        return []
    query = Member.filter(id__gt=after_id, tier_id__in=tier_ids, deleted_at__isnull=True)
    if conn is not None:
        query = query.select_for_update(no_key=True).using_db(conn)
    return await query.order_by("id").limit(limit).only("id", "tier_id")


async def evaluate_tiers(
    services: Services,
    period_end: date | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    on_batch: BatchHook | None = None,
) -> EvaluationReport:
    """Judge retention for a closed period (default: the latest); idempotent and resumable."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationFailed(
            f"batch_size must be 1..{MAX_BATCH_SIZE}.", code="invalid_batch_size"
        )
    period = _period(services, period_end)
    tz = services.config.brand.tz
    cutoff = local_midnight(period.evaluation_date, tz)
    max_levels = services.config.tiers.max_downgrade_levels
    report = EvaluationReport(period.key, period.start, period.end, dry_run, "running")
    existing = await EvaluationRun.get_or_none(period_key=period.key)
    if existing is not None and existing.status == EvaluationStatus.FINISHED:
        report.status = "already_finished"
        report.checked, report.downgraded = existing.checked, existing.downgraded
        report.skipped = existing.skipped
        return report
    if dry_run:
        return await _dry_run(report, existing, period, cutoff, max_levels, batch_size)
    run = existing or await _open_run(period, services.clock.now())
    report.resumed_from = run.cursor
    while True:
        async with in_transaction() as conn:
            run = await EvaluationRun.select_for_update().using_db(conn).get(id=run.id)
            if run.status == EvaluationStatus.FINISHED:
                break
            ladder = await Tier.all().using_db(conn).order_by("level")
            batch = await _candidates(ladder, run.cursor, batch_size, conn)
            verdicts = await _judge(batch, ladder, period, cutoff, max_levels, conn)
            now = services.clock.now()
            await _apply(verdicts, period, now, conn)
            run.cursor = batch[-1].id if batch else run.cursor
            run.checked += verdicts.checked
            run.skipped += verdicts.skipped
            run.downgraded += len(verdicts.downgrades)
            run.updated_at = now
            if len(batch) < batch_size:
                run.status = EvaluationStatus.FINISHED
                run.finished_at = now
            await run.save(using_db=conn)
        report.batches += 1
        report.moves.update(f"{a.name}->{b.name}" for a, b, _ in verdicts.downgrades.values())
        if on_batch is not None:
            await on_batch(BatchDone(report.batches, run.cursor, run.checked, run.downgraded))
        if run.status == EvaluationStatus.FINISHED:
            break
    report.status = "finished"
    report.checked, report.downgraded, report.skipped = run.checked, run.downgraded, run.skipped
    return report


async def _dry_run(
    report: EvaluationReport,
    existing: EvaluationRun | None,
    period: Period,
    cutoff: datetime,
    max_levels: int,
    batch_size: int,
) -> EvaluationReport:
    """What a real run would do from where the period stands, writing nothing."""
    cursor = existing.cursor if existing is not None else 0
    report.resumed_from = cursor
    ladder = await Tier.all().order_by("level")
    while True:
        batch = await _candidates(ladder, cursor, batch_size, None)
        verdicts = await _judge(batch, ladder, period, cutoff, max_levels, None)
        report.batches += 1
        report.checked += verdicts.checked
        report.skipped += verdicts.skipped
        report.downgraded += len(verdicts.downgrades)
        report.moves.update(f"{a.name}->{b.name}" for a, b, _ in verdicts.downgrades.values())
        if len(batch) < batch_size:
            break
        cursor = batch[-1].id
    report.status = "finished"
    return report
