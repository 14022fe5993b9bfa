"""The daily RFM run: idempotent per day, resumable in batches, and the monthly snapshot.

One `RfmRun` row per (local day, settings version). When a run starts it fixes its cuts (the
quintile boundaries measured once over every card holder who purchased, or the operators'
thresholds) and stores them on the row. Card holders are then taken in id order, a batch at a
time; each batch is one transaction that locks the run row, scores the batch with one
statement (handlers/segments/sql.py) and moves the cursor. Everything a run measures lies
before its day's local midnight, so a batch scored at 01:00 and one scored after a crash at
09:00 see the same purchases: a resumed run ends where an uninterrupted one would. A finished
run does nothing when run again; saving new settings raises their version, so the day can be
scored again under them.

The first run that finishes in a month takes the month's snapshot (`take_snapshot`): each
scored member's segment is kept as `snapshot_segment` (the one before moves to
`previous_segment`), and `rfm_months` gets the count of members per (previous, current)
segment. A month's snapshot is taken once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.segments import sql
from handlers.segments.rules import Cuts
from handlers.segments.settings import current_settings
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.localtime import local_midnight, local_today
from wxmember.core.models import Operator
from wxmember.core.models.members import Member
from wxmember.core.models.segments import MemberRfm, RfmMonth, RfmRun, RfmRunStatus

MAX_BATCH_SIZE = 10_000
ShouldStop = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class BatchDone:
    """Progress after one committed batch (what an `on_batch` hook receives)."""

    batch: int
    cursor: int
    scored: int


BatchHook = Callable[[BatchDone], Awaitable[None]]


@dataclass
class RfmReport:
    """The outcome of a run. Totals cover the whole day's run, resumed parts included."""

    day: date
    settings_version: int
    mode: str
    status: str
    cuts: dict[str, list[int]]
    resumed_from: int = 0
    scored: int = 0
    batches: int = 0
    snapshot_month: date | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "settings_version": self.settings_version,
            "mode": self.mode,
            "status": self.status,
            "cuts": self.cuts,
            "resumed_from": self.resumed_from,
            "scored": self.scored,
            "batches": self.batches,
            "snapshot_month": self.snapshot_month.isoformat() if self.snapshot_month else None,
        }


@dataclass(frozen=True)
class Moment:
    """What a run of a local day measures against."""

    day: date
    as_of: datetime  # the day's local midnight
    since: datetime  # the start of the frequency and monetary window
    new_since: datetime  # a first purchase from here on makes a member "new"

    @property
    def as_of_seconds(self) -> int:
        return int(self.as_of.timestamp())


def moment_of(services: Services, day: date) -> Moment:
    """The boundaries of the run of a local day."""
    tz = services.config.brand.tz
    config = services.config.rfm
    return Moment(
        day,
        local_midnight(day, tz),
        local_midnight(day - timedelta(days=config.window_days), tz),
        local_midnight(day - timedelta(days=config.new_days), tz),
    )


async def measure_cuts(moment: Moment, conn: BaseDBAsyncClient) -> Cuts:
    """The quintile boundaries over every card holder who purchased before the day."""
    found = await sql.run(conn, "cuts", [moment.as_of, moment.since, moment.as_of_seconds])
    bounds: dict[str, dict[int, int]] = {"r": {}, "f": {}, "m": {}}
    for row in found:
        if row["grp"] is not None and row["top"] is not None:
            bounds[str(row["measure"])][int(row["grp"])] = int(row["top"])
    return Cuts.from_groups(bounds["r"], bounds["f"], bounds["m"])


async def _open_run(services: Services, moment: Moment) -> RfmRun:
    settings = await current_settings()
    existing = await RfmRun.get_or_none(day=moment.day, settings_version=settings.version)
    if existing is not None:
        return existing
    async with in_transaction() as conn:
        if settings.cuts is not None:
            cuts = settings.cuts
        else:
            cuts = await measure_cuts(moment, conn)
    now = services.clock.now()
    try:
        return await RfmRun.create(
            day=moment.day,
            settings_version=settings.version,
            mode=settings.mode,
            cuts=cuts.public(),
            started_at=now,
            updated_at=now,
        )
    except IntegrityError:  # another runner opened it at the same moment: share its cuts
        return await RfmRun.get(day=moment.day, settings_version=settings.version)


async def _next_bound(moment: Moment, after_id: int, limit: int, conn: BaseDBAsyncClient) -> int:
    """The id of the last card holder of the next batch, 0 when none are left."""
    ids: list[Any] = await (
        Member.filter(
            Q(card_opened_at__isnull=True) | Q(card_opened_at__lt=moment.as_of),
            id__gt=after_id,
            card_no__isnull=False,
            deleted_at__isnull=True,
        )
        .using_db(conn)
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return int(ids[-1]) if ids else 0


async def _score(
    services: Services, moment: Moment, cuts: Cuts, lo: int, hi: int, conn: BaseDBAsyncClient
) -> None:
    high = services.config.rfm.high_score
    args: list[object] = [moment.as_of, moment.since, moment.as_of_seconds, lo, hi]
    args += [moment.new_since, high, moment.day, *cuts.r, *cuts.f, *cuts.m]
    await sql.run(conn, "score", args)


async def run_rfm(
    services: Services,
    day: date | None = None,
    *,
    batch_size: int | None = None,
    on_batch: BatchHook | None = None,
    should_stop: ShouldStop | None = None,
) -> RfmReport:
    """Score every card holder for a local day (default today); idempotent and resumable."""
    size = batch_size or services.config.rfm.batch_size
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValidationFailed(
            f"batch_size must be 1..{MAX_BATCH_SIZE}.", code="invalid_batch_size"
        )
    today = local_today(services)
    day = day or today
    if day > today:
        raise ValidationFailed("That day has not begun yet.", code="day_in_future")
    moment = moment_of(services, day)
    run = await _open_run(services, moment)
    cuts = Cuts.from_public(run.cuts)
    report = RfmReport(day, run.settings_version, run.mode, "running", run.cuts)
    if run.status == RfmRunStatus.FINISHED:
        report.status = "already_finished"
        report.scored, report.batches = run.scored, run.batches
        # A run that finished just before a crash may not have taken its month's snapshot.
        report.snapshot_month = run.snapshot_month or await take_snapshot(services, run)
        return report
    report.resumed_from = run.cursor
    while True:
        if should_stop is not None and await should_stop():
            report.status = "stopped"
            report.scored, report.batches = run.scored, run.batches
            return report
        async with in_transaction() as conn:
            run = await RfmRun.select_for_update().using_db(conn).get(id=run.id)
            if run.status == RfmRunStatus.FINISHED:
                break
            hi = await _next_bound(moment, run.cursor, size, conn)
            if hi:
                await _score(services, moment, cuts, run.cursor, hi, conn)
                scored = (
                    await MemberRfm.filter(
                        member_id__gt=run.cursor, member_id__lte=hi, computed_on=day
                    )
                    .using_db(conn)
                    .count()
                )
                run.scored += scored
                run.cursor = hi
                run.batches += 1
            now = services.clock.now()
            run.updated_at = now
            if not hi or await _next_bound(moment, run.cursor, 1, conn) == 0:
                run.status = RfmRunStatus.FINISHED
                run.finished_at = now
            await run.save(using_db=conn)
        if hi and on_batch is not None:
            await on_batch(BatchDone(run.batches, run.cursor, run.scored))
        if run.status == RfmRunStatus.FINISHED:
            break
    report.status = "finished"
    report.scored, report.batches = run.scored, run.batches
    report.snapshot_month = await take_snapshot(services, run)
    return report


def month_of(day: date) -> date:
    return day.replace(day=1)


async def take_snapshot(services: Services, run: RfmRun) -> date | None:
    """The month's snapshot from a finished run, unless the month has one; the month taken."""
    month = month_of(run.day)
    async with in_transaction() as conn:
        run = await RfmRun.select_for_update().using_db(conn).get(id=run.id)
        if run.status != RfmRunStatus.FINISHED:
            return None
        if run.snapshot_month == month:
            return month
        if await RfmRun.filter(snapshot_month=month).using_db(conn).exists():
            return None
        later = await RfmRun.filter(snapshot_month__gt=month).using_db(conn).exists()
        if later:  # an old day run again: the snapshots go forward only
            return None
        await (
            MemberRfm.filter(Q(snapshot_month__isnull=True) | Q(snapshot_month__lt=month))
            .filter(computed_on=run.day)
            .using_db(conn)
            .update(
                previous_segment=F("snapshot_segment"),
                snapshot_segment=F("segment"),
                snapshot_month=month,
            )
        )
        moves = await (
            MemberRfm.filter(snapshot_month=month)
            .using_db(conn)
            .annotate(n=Count("id"))
            .group_by("previous_segment", "snapshot_segment")
            .values_list("previous_segment", "snapshot_segment", "n")
        )
        await RfmMonth.bulk_create(
            [
                RfmMonth(
                    month=month,
                    from_segment=previous or "",
                    segment=current,
                    members=int(n),
                    taken_on=run.day,
                )
                for previous, current, n in moves
            ],
            using_db=conn,
        )
        run.snapshot_month = month
        await run.save(using_db=conn, update_fields=["snapshot_month"])
    return month


async def run_for_staff(services: Services, actor: Operator) -> RfmReport:
    """Score today now, for a staff member (audited): finishes or resumes today's run under
    the current settings, and does nothing more if it has finished."""
    report = await run_rfm(services)
    await audit.record(actor, "rfm.run", "rfm_run", report.day.isoformat(), after=report.as_dict())
    return report
