"""`points-expiry`: expire every lot past its date, a backlog of a share of all lots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.people import MemberFactory, Shares
from bench.jobs.plans import explain
from bench.jobs.seed_points import PointsSeed, PointsSeeder
from handlers.points.expiry import due_lots_statement
from wxmember.core.localtime import whole_second

DEFAULT_LOTS = 1_000_000
LOTS_PER_MEMBER = 5
TABLES = ("members", "points_entries", "points_lots", "points_allocations")

_UNBALANCED = """
WITH e AS (SELECT member_id, sum(amount) AS s FROM points_entries GROUP BY member_id),
     l AS (SELECT member_id, sum(remaining) AS s FROM points_lots GROUP BY member_id)
SELECT count(*) FROM members m
LEFT JOIN e ON e.member_id = m.id LEFT JOIN l ON l.member_id = m.id
WHERE m.points_balance <> COALESCE(e.s, 0) OR m.points_balance <> COALESCE(l.s, 0)
"""
_LAST_ENTRY_OFF = """
SELECT count(*) FROM members m JOIN LATERAL (
  SELECT balance_after FROM points_entries p WHERE p.member_id = m.id ORDER BY p.id DESC LIMIT 1
) last ON true WHERE last.balance_after <> m.points_balance
"""
_EXPIRY_UNALLOCATED = """
SELECT count(*) FROM points_entries p LEFT JOIN (
  SELECT entry_id, sum(amount) AS s FROM points_allocations GROUP BY entry_id
) a ON a.entry_id = p.id WHERE p.kind = 'expire' AND COALESCE(a.s, 0) <> -p.amount
"""


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    lots = sizes.lots or DEFAULT_LOTS
    members = sizes.members or max(1, lots // LOTS_PER_MEMBER)
    factory = MemberFactory(ctx.rng, ctx.now, Shares(no_card=0.0, deleted=0.0))
    seeder = PointsSeeder(ctx.config, ctx.ladder, factory, sizes.due_share)
    seed = await seeder.seed(ctx.loader, members, lots)
    return Prepared(
        parameters={
            "lots": lots,
            "members": members,
            "batch_size": sizes.batch_size,
            "batches_at_once": sizes.at_once or ctx.config.points.expiry_batches_at_once,
            "due_share_of_lots_earned": sizes.due_share,
            "now": ctx.now.isoformat(),
            "expiry_policy": f"{ctx.config.points.expiry_policy}, "
            f"{ctx.config.points.rolling_months} months",
        },
        seeded={
            "lots": seed.lots,
            "spends": seed.spends,
            "due_lots (remaining > 0, past expiry)": seed.due_lots,
            "due_members": seed.due_members,
            "due_points": seed.due_points,
        },
        params={
            "now": ctx.now.isoformat(),
            "batch_size": sizes.batch_size,
            "at_once": sizes.at_once,
        },
        tables=TABLES,
        state=seed,
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    """The job's page query (`handlers.points.expiry.due_lots_statement`): first and middle
    pages."""
    cutoff = whole_second(datetime.fromisoformat(prepared.params["now"]))
    limit = prepared.params["batch_size"]
    conn = connections.get("default")
    if stage == "after":
        first = due_lots_statement(conn, cutoff, None, limit)
        return [await explain(ctx.conn, "due lots, once nothing is due", *first)]
    middle = await ctx.conn.fetchrow(
        "SELECT expires_at, id FROM points_lots WHERE remaining > 0 AND expires_at < $1"
        " ORDER BY expires_at, id OFFSET (SELECT count(*) / 2 FROM points_lots"
        " WHERE remaining > 0 AND expires_at < $1) LIMIT 1",
        cutoff,
    )
    found = [
        await explain(
            ctx.conn, "due lots, first page", *due_lots_statement(conn, cutoff, None, limit)
        )
    ]
    if middle is not None:
        cursor = (middle["expires_at"], middle["id"])
        page = due_lots_statement(conn, cutoff, cursor, limit)
        found.append(await explain(ctx.conn, "due lots, a page halfway", *page))
    return found


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seed: PointsSeed = prepared.state
    now = whole_second(datetime.fromisoformat(prepared.params["now"]))
    fetch = ctx.conn.fetchval
    left = await fetch(
        "SELECT count(*) FROM points_lots WHERE remaining > 0 AND expires_at < $1", now
    )
    expire_rows = await fetch("SELECT count(*) FROM points_entries WHERE kind = 'expire'")
    expired = await fetch(
        "SELECT -COALESCE(sum(amount), 0) FROM points_entries WHERE kind = 'expire'"
    )
    balance = await fetch("SELECT sum(points_balance) FROM members")
    return {
        "lots expired": check(seed.due_lots, job["result"]["expired_lots"]),
        "due lots left": check(0, left),
        "expire entries (one per member)": check(seed.due_members, expire_rows),
        "points expired": check(seed.due_points, expired),
        "total balance": check(seed.balance_total - seed.due_points, balance),
        "members checked for the invariant": check(
            prepared.parameters["members"], await fetch("SELECT count(*) FROM members")
        ),
        "members with balance != sum(entries) or != sum(lots.remaining)": check(
            0, await fetch(_UNBALANCED)
        ),
        "members whose last entry's balance_after != balance": check(
            0, await fetch(_LAST_ENTRY_OFF)
        ),
        "expire entries not matched by allocations": check(0, await fetch(_EXPIRY_UNALLOCATED)),
    }


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seconds = job["seconds"]
    expired = job["result"]["expired_lots"]
    members = prepared.seeded["due_members"]
    return {
        "lots": prepared.seeded["lots"],
        "expired_lots": expired,
        "lots_per_second": round(expired / seconds) if seconds else None,
        "due_members": members,
        "members_per_second": round(members / seconds) if seconds else None,
    }
