"""`rfm`: the daily RFM scoring of every card holder, again the same day, and resumed.

Seeds members and a year (and a month) of POS purchases with refunds (bench/jobs/seed_purchases.py,
shared with `segments`), then in the job's process: `handlers.segments.run.run_rfm` for the
day, as the `rfm.daily` job runs it (timed); the same call again, which must do nothing; and
a run of the same day under a new settings version, stopped after a few batches and finished
by a second call, whose rows must equal the uninterrupted run's. Checks: for a sample of
members, recency, frequency, monetary value, scores and segment computed here from the seeded
purchases against the stored rows; the month's snapshot against a direct count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.people import MemberFactory
from bench.jobs.plans import explain
from bench.jobs.seed_purchases import MEMBER_TABLES, PurchaseSeeder, RowBuffer, SeededMember
from bench.jobs.segments import RFM_COLUMNS
from handlers.segments import sql
from handlers.segments.rules import Cuts, Segment, amount_score, classic_segment, recency_score
from wxmember.core.localtime import local_midnight

DEFAULT_MEMBERS = 1_000_000
PURCHASE_DAYS = 395  # a year and a month: some purchases fall outside the 365-day window
SAMPLE = 200
STOP_AFTER_BATCHES = 3
COPY_TABLE = "bench_rfm_uninterrupted"
TABLES = tuple(name for name, _ in MEMBER_TABLES)
SCORED_COLUMNS = RFM_COLUMNS[1:]  # what a run writes: every column but the id


@dataclass(frozen=True)
class RfmSeed:
    """What the checks need: the sampled members as seeded, and the card holders of the day."""

    sample: dict[int, SeededMember]
    card_holders: int
    purchased: int


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    as_of = local_midnight(ctx.today, ctx.config.brand.tz)
    sampled = set(ctx.rng.sample(range(1, members + 1), min(SAMPLE, members)))
    seeder = PurchaseSeeder(MemberFactory(ctx.rng, ctx.now), ctx.ladder, ctx.now, PURCHASE_DAYS)
    buffer = RowBuffer(ctx.loader, MEMBER_TABLES)
    sample: dict[int, SeededMember] = {}
    holders = purchased = 0
    in_sample = {"card holders": 0, "with a counted purchase": 0, "with a refund": 0}
    for member_id in range(1, members + 1):
        member = seeder.member(member_id, buffer)
        if not _holds_card(member, as_of):
            pass
        elif _measure(member, as_of, as_of)[0]:
            holders, purchased = holders + 1, purchased + 1
        else:
            holders += 1
        if member_id in sampled:
            sample[member_id] = member
            in_sample["card holders"] += _holds_card(member, as_of)
            in_sample["with a counted purchase"] += bool(_measure(member, as_of, as_of)[0])
            in_sample["with a refund"] += any(p.refunded_fen for p in member.purchases)
        await buffer.flush()
    await buffer.flush(final=True)
    day = ctx.today.isoformat()
    # stop while batches are left, so that the second call has some to do
    stop = max(1, min(STOP_AFTER_BATCHES, -(-holders // sizes.batch_size) - 1))
    return Prepared(
        parameters={
            "members": members,
            "day": day,
            "batch_size": sizes.batch_size,
            "purchase_days": PURCHASE_DAYS,
            "purchases_per_card_holder": "0, 0, 1, 1, 2, 3, 4 or 6 (drawn evenly)",
            "refunds": "1 purchase in 20 refunded in part, 1 in 20 in full, 2 days later",
            "window_days": ctx.config.rfm.window_days,
            "new_days": ctx.config.rfm.new_days,
            "stopped_after_batches": stop,
            "sample": len(sample),
        },
        seeded={
            "purchases": seeder.purchase_id,
            "refunds": seeder.refund_id,
            "card holders of the day": holders,
            "card holders with a counted purchase": purchased,
            "sample": in_sample,
        },
        params={
            "day": day,
            "batch_size": sizes.batch_size,
            "stop_after_batches": stop,
            "copy_table": COPY_TABLE,
        },
        tables=TABLES,
        state=RfmSeed(sample, holders, purchased),
        notes=[
            "The job runs handlers.segments.run.run_rfm three ways: the day's run (measured), "
            "the same call again, then under a new settings version after emptying member_rfm: "
            f"stopped after {stop} batches by `should_stop` and finished by a "
            f"second call. The first run's rows are kept in {COPY_TABLE} to compare.",
        ],
    )


def _holds_card(member: SeededMember, as_of: datetime) -> bool:
    opened = member.card_opened_at
    return member.has_card and not member.deleted and (opened is None or opened < as_of)


def _measure(
    member: SeededMember, as_of: datetime, since: datetime
) -> tuple[list[tuple[datetime, int]], int, int]:
    """The counted purchases (time, net) before `as_of`; frequency and amount since `since`."""
    counted = []
    for p in member.purchases:
        if p.at >= as_of:
            continue
        refunded = p.refunded_fen if p.refunded_at is not None and p.refunded_at < as_of else 0
        net = p.amount_fen - refunded
        if net > 0:
            counted.append((p.at, net))
    recent = [net for at, net in counted if at >= since]
    return counted, len(recent), sum(recent)


def expected_row(
    member: SeededMember, ctx: Context, day: date, cuts: Cuts
) -> dict[str, Any] | None:
    """The `member_rfm` row of a seeded member for the day, computed from its purchases."""
    tz, config = ctx.config.brand.tz, ctx.config.rfm
    as_of = local_midnight(day, tz)
    if not _holds_card(member, as_of):
        return None
    since = local_midnight(day - timedelta(days=config.window_days), tz)
    new_since = local_midnight(day - timedelta(days=config.new_days), tz)
    counted, frequency, monetary = _measure(member, as_of, since)
    row: dict[str, Any] = {"frequency": frequency, "monetary_fen": monetary, "computed_on": day}
    if not counted:
        return row | {
            "recency_days": None,
            "r_score": None,
            "f_score": None,
            "m_score": None,
            "segment": str(Segment.NEVER_PURCHASED),
            "first_purchase_at": None,
            "last_purchase_at": None,
        }
    first, last = min(at for at, _ in counted), max(at for at, _ in counted)
    recency = (int(as_of.timestamp()) - int(last.timestamp()) + 86399) // 86400
    r, f = recency_score(recency, cuts), amount_score(frequency, cuts.f)
    m = amount_score(monetary, cuts.m)
    segment = Segment.NEW if first >= new_since else classic_segment(r, f, m, config.high_score)
    return row | {
        "recency_days": recency,
        "r_score": r,
        "f_score": f,
        "m_score": m,
        "segment": str(segment),
        "first_purchase_at": first,
        "last_purchase_at": last,
    }


async def _cuts(ctx: Context, version: int) -> Cuts | None:
    found = await ctx.conn.fetchval(
        "SELECT cuts FROM rfm_runs WHERE day = $1 AND settings_version = $2", ctx.today, version
    )
    if found is None:
        return None
    return Cuts.from_public(json.loads(found) if isinstance(found, str) else found)


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    """The batch statement (`handlers.segments.sql` "score") for a batch halfway, once the day
    is scored (so its upsert updates, as every day after the first), rolled back."""
    cuts = await _cuts(ctx, 0) if stage == "after" else None
    if cuts is None:
        return []
    state: RfmSeed = prepared.state
    size = prepared.params["batch_size"]
    ids = await ctx.conn.fetch(
        "SELECT id FROM members WHERE card_no IS NOT NULL AND deleted_at IS NULL"
        " ORDER BY id OFFSET $1 LIMIT $2",
        state.card_holders // 2,
        size + 1,
    )
    if len(ids) < 2:
        return []
    tz, config = ctx.config.brand.tz, ctx.config.rfm
    day = ctx.today
    as_of = local_midnight(day, tz)
    args: list[Any] = [
        as_of,
        local_midnight(day - timedelta(days=config.window_days), tz),
        int(as_of.timestamp()),
        ids[0]["id"],
        ids[-1]["id"],
        local_midnight(day - timedelta(days=config.new_days), tz),
        config.high_score,
        day,
        *cuts.r,
        *cuts.f,
        *cuts.m,
    ]
    transaction = ctx.conn.transaction()
    await transaction.start()
    try:
        title = f"score a batch of {len(ids) - 1} card holders halfway (upsert)"
        return [await explain(ctx.conn, title, sql.statement("score", "postgres"), args)]
    finally:
        await transaction.rollback()


_DIFFERENT = """
SELECT count(*) FROM (
  (SELECT {columns} FROM member_rfm EXCEPT SELECT {columns} FROM {copy})
  UNION ALL
  (SELECT {columns} FROM {copy} EXCEPT SELECT {columns} FROM member_rfm)
) AS different
"""


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    state: RfmSeed = prepared.state
    result = job["result"]
    first, again = result["first"], result["again"]
    stopped, resumed = result["stopped"], result["resumed"]
    fetch, copy = ctx.conn.fetchval, prepared.params["copy_table"]
    size = prepared.params["batch_size"]
    holders = state.card_holders
    columns = ", ".join(SCORED_COLUMNS)
    cuts = await _cuts(ctx, 0)
    assert cuts is not None
    stored = {
        row["member_id"]: dict(row)
        for row in await ctx.conn.fetch(
            f"SELECT {columns} FROM {copy} WHERE member_id = ANY($1::bigint[])",
            list(state.sample),
        )
    }
    wrong = []
    for member_id, member in sorted(state.sample.items()):
        expected = expected_row(member, ctx, ctx.today, cuts)
        actual = stored.get(member_id)
        if actual is not None:
            actual = {k: v for k, v in actual.items() if k != "member_id"}
        if expected != actual:
            wrong.append({"member_id": member_id, "expected": expected, "actual": actual})
    month = ctx.today.replace(day=1)
    snapshot = await ctx.conn.fetch(
        "SELECT segment, sum(members)::bigint AS n FROM rfm_months WHERE month = $1"
        " GROUP BY segment",
        month,
    )
    direct = await ctx.conn.fetch(
        f"SELECT segment, count(*) AS n FROM {copy} WHERE computed_on = $1 GROUP BY segment",
        ctx.today,
    )
    snapshot_kept = await fetch(
        f"SELECT count(*) FROM {copy} WHERE snapshot_month = $1 AND snapshot_segment = segment",
        month,
    )
    return {
        "first run finished": check("finished", first["status"]),
        "first run scored every card holder": check(holders, first["scored"]),
        "rows of the day": check(holders, await fetch(f"SELECT count(*) FROM {copy}")),
        "batches": check(-(-holders // size), first["batches"]),
        "never purchased": check(
            holders - state.purchased,
            await fetch(f"SELECT count(*) FROM {copy} WHERE segment = 'never_purchased'"),
        ),
        f"sample of {len(state.sample)}: rows differing from the seeded purchases": check(
            [], wrong[:5]
        ),
        "month's snapshot taken": check(month.isoformat(), first["snapshot_month"]),
        "snapshot sizes per segment equal a direct count": check(
            {r["segment"]: r["n"] for r in direct}, {r["segment"]: r["n"] for r in snapshot}
        ),
        "snapshot_segment kept on every row": check(holders, snapshot_kept),
        "second run: already finished": check("already_finished", again["status"]),
        "second run: rows rewritten": check(False, result["again_rewrote_rows"]),
        "resumed: stopped after the batches asked": check(
            ["stopped", prepared.params["stop_after_batches"]],
            [stopped["status"], stopped["batches"]],
        ),
        "resumed: the second call went on from the first's cursor": check(
            [0, result["stopped_cursor"]], [stopped["resumed_from"], resumed["resumed_from"]]
        ),
        "resumed: finished, every card holder scored": check(
            ["finished", holders, first["batches"]],
            [resumed["status"], resumed["scored"], resumed["batches"]],
        ),
        "resumed: same cuts": check(first["cuts"], resumed["cuts"]),
        "resumed: rows differing from the uninterrupted run": check(
            0, await fetch(_DIFFERENT.format(columns=columns, copy=copy))
        ),
        "resumed: rows": check(holders, await fetch("SELECT count(*) FROM member_rfm")),
    }


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    result = job["result"]
    members, seconds = prepared.parameters["members"], result["first_seconds"]
    scored = result["first"]["scored"]
    return {
        "members": members,
        "card holders scored": scored,
        "run of the day, s": seconds,
        "members_per_second": round(members / seconds) if seconds else None,
        "card holders scored per second": round(scored / seconds) if seconds else None,
        "batches (first tenth / last tenth mean ms)": (
            f"{result['batches']['calls']} "
            f"({result['batches'].get('first_tenth_mean_ms')} / "
            f"{result['batches'].get('last_tenth_mean_ms')})"
        ),
        "cuts (quintiles), s": result["inner"]["measure_cuts"].get("seconds"),
        "month's snapshot, s": result["inner"]["take_snapshot"].get("seconds"),
        "second run the same day, ms": round(1000 * result["again_seconds"], 1),
        "resumed: stopped after batches, s": (
            f"{result['stopped']['batches']}, {result['stopped_seconds']}"
        ),
        "resumed: finished from the cursor, s": (
            f"{result['resumed']['resumed_from']:,}, {result['resumed_seconds']}"
        ),
    }
