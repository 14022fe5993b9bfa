"""The jobs as the measured process runs them: each the real handler, called as the scheduler
would, with timing around its inner steps. Each returns what it did, as JSON-ready values.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

import handlers.dashboard.figures
import handlers.points.expiry
import handlers.reminders.runs
import handlers.segments.run
from bench.jobs.probe import Timed, summary
from handlers import dashboard as dashboard_figures
from handlers import member_import as importing
from handlers.points.ledger import expire_due_lots
from handlers.reminders.candidates import find_candidates
from handlers.reminders.runs import claim_rule_day
from handlers.segments import saved
from handlers.segments.criteria import Criteria
from handlers.segments.run import BatchDone as RfmBatchDone
from handlers.segments.run import run_rfm
from handlers.segments.settings import SETTINGS_ID
from handlers.tiers.evaluation import BatchDone
from handlers.tiers.growth import evaluate_tiers
from wxmember.core.context import Services
from wxmember.core.models import Operator
from wxmember.core.models.reminders import ReminderRule
from wxmember.core.models.segments import RfmSettings

Job = Callable[[Services, dict[str, Any]], Awaitable[dict[str, Any]]]


async def tiers(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """The retention evaluation of the closed period, batch by batch."""
    marks = [time.perf_counter()]

    async def on_batch(done: BatchDone) -> None:
        marks.append(time.perf_counter())

    report = await evaluate_tiers(
        services,
        period_end=date.fromisoformat(params["period_end"]),
        batch_size=params["batch_size"],
        on_batch=on_batch,
    )
    batches = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return {"report": report.as_dict(), "batches": summary(batches)}


async def birthdays(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """Select the day's birthdays alone, then claim them as the scheduler does, then again."""
    rule = await ReminderRule.get(id=params["rule_id"])
    day = date.fromisoformat(params["day"])
    page = services.config.reminders.batch_size
    started = time.perf_counter()
    selected, cursor, page_seconds = 0, 0, []
    while True:
        page_started = time.perf_counter()
        found, next_cursor = await find_candidates(services, rule, day, cursor, page)
        page_seconds.append(time.perf_counter() - page_started)
        selected += len(found)
        if next_cursor is None:
            break
        cursor = next_cursor
    selection = time.perf_counter() - started
    finding = Timed(handlers.reminders.runs, "find_candidates")
    claiming = Timed(handlers.reminders.runs, "claim")
    started = time.perf_counter()
    try:
        claimed = await claim_rule_day(services, rule, day)
    finally:
        inner = {"find_candidates": finding.restore(), "claim": claiming.restore()}
    claim_seconds = time.perf_counter() - started
    started = time.perf_counter()
    claimed_again = await claim_rule_day(services, rule, day)
    return {
        "selected": selected,
        "page_size": page,
        "pages": summary(page_seconds),
        "page_ms": [round(1000 * s, 2) for s in page_seconds[:50]],
        "selection_seconds": round(selection, 4),
        "claimed": claimed,
        "claim_rule_day_seconds": round(claim_seconds, 4),
        "claim_rule_day_inner": inner,
        "claimed_again": claimed_again,
        "again_seconds": round(time.perf_counter() - started, 4),
    }


async def points_expiry(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """Expire every lot past its date, one transaction per batch of members."""
    page = Timed(handlers.points.expiry, "due_lots_page")
    batch = Timed(handlers.points.expiry, "expire_members_lots")
    try:
        expired = await expire_due_lots(
            services,
            now=datetime.fromisoformat(params["now"]),
            batch_size=params["batch_size"],
            at_once=params["at_once"],
        )
    finally:
        inner = {"due_lots_page": page.restore(), "expire_members_lots": batch.restore()}
    return {"expired_lots": expired, "inner": inner}


async def _reads(repeats: int, read: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        await read()
        durations.append(time.perf_counter() - started)
    return summary(durations) | {"median_ms": round(1000 * statistics.median(durations), 3)}


async def dashboard(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """The job's first run (every day since the first member), a second run, then the reads:
    today live, the page of 30 and 90 days, the charts' numbers of 90 days."""
    changes = Timed(handlers.dashboard.figures, "changes")
    carried = Timed(handlers.dashboard.figures, "carried")
    started = time.perf_counter()
    try:
        report = await dashboard_figures.backfill(services)
    finally:
        per_day = {"changes": changes.restore(), "carried": carried.restore()}
    backfill_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = await dashboard_figures.backfill(services)
    again_seconds = time.perf_counter() - started

    async def page(days: int) -> None:
        found = await dashboard_figures.period(services, days)
        found.totals()

    async def charts(days: int) -> None:
        found = await dashboard_figures.period(services, days)
        for series in dashboard_figures.SERIES:
            dashboard_figures.table(found, series)

    repeats = params["repeats"]
    reads = {
        "today": await _reads(repeats, lambda: dashboard_figures.today_figures(services)),
        "page_30": await _reads(repeats, lambda: page(30)),
        "page_90": await _reads(repeats, lambda: page(90)),
        "charts_90": await _reads(repeats, lambda: charts(90)),
    }
    today = await dashboard_figures.today_figures(services)
    return {
        "backfill": report.as_dict(),
        "backfill_seconds": round(backfill_seconds, 4),
        "per_day": per_day,
        "again": again.as_dict(),
        "again_seconds": round(again_seconds, 4),
        "reads": reads,
        "today": {
            name: getattr(today, name)
            for name in (
                "members",
                "new_cards",
                "checkins",
                "points_net",
                "points_liability",
                "coupons_claimed",
                "coupons_redeemed",
                "mall_redemptions",
                "tiers",
                "reminders",
                "followers",
            )
        },
    }


async def segments(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """Each filter counted once to warm up, then `repeats` times."""
    counts: dict[str, int] = {}
    reads: dict[str, Any] = {}
    for title, raw in params["filters"].items():
        criteria = Criteria.model_validate(raw)
        counts[title] = await saved.count(services, criteria)

        def read(criteria: Criteria = criteria) -> Awaitable[int]:
            return saved.count(services, criteria)

        reads[title] = await _reads(params["repeats"], read)
    return {
        "counts": counts,
        "reads": reads,
        "median_seconds": {title: round(r["median_ms"] / 1000, 3) for title, r in reads.items()},
    }


async def _fetch_one(statement: str) -> Any:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(statement)
    return next(iter(rows[0].values())) if rows else None


async def rfm(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """The day's run batch by batch; the same call again; then the day under a new settings
    version from empty rows, stopped after a few batches and finished by a second call."""
    day, size = date.fromisoformat(params["day"]), params["batch_size"]
    marks: list[float] = []

    async def on_batch(done: RfmBatchDone) -> None:
        marks.append(time.perf_counter())

    cuts = Timed(handlers.segments.run, "measure_cuts")
    snapshot = Timed(handlers.segments.run, "take_snapshot")
    started = time.perf_counter()
    try:
        first = await run_rfm(services, day, batch_size=size, on_batch=on_batch)
    finally:
        inner = {"measure_cuts": cuts.restore(), "take_snapshot": snapshot.restore()}
    first_seconds = time.perf_counter() - started
    # the first batch starts once the cuts are measured
    marks.insert(0, started + inner["measure_cuts"]["seconds"])
    batches = [b - a for a, b in zip(marks, marks[1:], strict=False)]

    versions = "SELECT sum(xmin::text::bigint) FROM member_rfm"
    before = await _fetch_one(versions)
    started = time.perf_counter()
    again = await run_rfm(services, day, batch_size=size)
    again_seconds = time.perf_counter() - started
    rewrote = await _fetch_one(versions) != before

    async with in_transaction() as conn:
        await conn.execute_script(
            f"CREATE TABLE {params['copy_table']} AS SELECT * FROM member_rfm;"
            "DELETE FROM member_rfm;"
        )
    # saving settings raises their version: the day can be scored again
    await RfmSettings.create(
        id=SETTINGS_ID, mode="quintile", thresholds={}, version=1, updated_at=services.clock.now()
    )
    done: list[RfmBatchDone] = []

    async def count(batch: RfmBatchDone) -> None:
        done.append(batch)

    async def should_stop() -> bool:
        return len(done) >= params["stop_after_batches"]

    started = time.perf_counter()
    stopped = await run_rfm(services, day, batch_size=size, on_batch=count, should_stop=should_stop)
    stopped_seconds = time.perf_counter() - started
    stopped_cursor = done[-1].cursor if done else 0
    started = time.perf_counter()
    resumed = await run_rfm(services, day, batch_size=size)
    resumed_seconds = time.perf_counter() - started
    return {
        "first": first.as_dict(),
        "first_seconds": round(first_seconds, 4),
        "inner": inner,
        "batches": summary(batches),
        "again": again.as_dict(),
        "again_seconds": round(again_seconds, 4),
        "again_rewrote_rows": rewrote,
        "stopped": stopped.as_dict(),
        "stopped_seconds": round(stopped_seconds, 4),
        "stopped_cursor": stopped_cursor,
        "resumed": resumed.as_dict(),
        "resumed_seconds": round(resumed_seconds, 4),
    }


async def member_import(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    """Import the file as `wxmember import-members` does, then the same file again."""
    actor = await Operator.get(username=params["operator"])
    source = importing.source_from_path(Path(params["file"]))
    size = params["batch_size"]
    started = time.perf_counter()
    first = await importing.import_members(services, actor, source, batch_size=size)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = await importing.import_members(services, actor, source, batch_size=size)
    again_seconds = time.perf_counter() - started
    return {
        "first": importing.import_view(first),
        "first_seconds": round(first_seconds, 3),
        "rows_per_second": round(first.rows / first_seconds) if first_seconds else None,
        "again": importing.import_view(again),
        "again_seconds": round(again_seconds, 3),
    }


JOBS: dict[str, Job] = {
    "tiers": tiers,
    "birthdays": birthdays,
    "points-expiry": points_expiry,
    "dashboard": dashboard,
    "segments": segments,
    "rfm": rfm,
    "member-import": member_import,
}
