"""The jobs as the measured process runs them: each the real handler, called as the scheduler
would, with timing around its inner steps. Each returns what it did, as JSON-ready values.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import handlers.points.ledger
import handlers.reminders.runs
from bench.jobs.probe import Timed, summary
from handlers.points.ledger import expire_due_lots
from handlers.reminders.candidates import find_candidates
from handlers.reminders.runs import claim_rule_day
from handlers.tiers.evaluation import BatchDone
from handlers.tiers.growth import evaluate_tiers
from wxmember.core.context import Services
from wxmember.core.models.reminders import ReminderRule

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
    """Expire every lot past its date, one transaction per member."""
    due_query = Timed(handlers.points.ledger, "due_member_ids")
    try:
        expired = await expire_due_lots(
            services, now=datetime.fromisoformat(params["now"]), batch_size=params["batch_size"]
        )
    finally:
        inner = {"due_member_ids": due_query.restore()}
    return {"expired_lots": expired, "inner": inner}


JOBS: dict[str, Job] = {"tiers": tiers, "birthdays": birthdays, "points-expiry": points_expiry}
