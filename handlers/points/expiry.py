"""Expiring due lots in bulk: a batch of members at a time, a few SQL statements per batch.

The scheduled job's path (`expire_due_lots`). It writes what `handlers.points.lots.
expire_member_lots` writes for each member of a batch (the path a spend or an earn takes before
its first change), only set-based: for every member with lots past their date, one `expire`
entry of minus what those lots still held (`balance_after` and `debt_after` from the locked
row, key `expire:<member>:<first due lot by expiry, then id>`, `created_at` the run's moment),
one allocation per lot of what it held, the lots emptied and the balance lowered by as much.

Batches follow the due lots in (expires_at, id) order with a keyset cursor, so memory stays
at a few batches and nothing is read twice. The page reads the partial index of the lots that
still hold points (`points_lots_due`, migration 0013), so emptied lots are not read again. A
batch is one transaction over the members its lots belong to (all of their due lots, so still
one entry per member and run). An emptied lot is never due again, so a run stopped at any
point and run again finishes the job with nothing done twice.

On PostgreSQL `points.expiry_batches_at_once` batches run side by side, each on its own
connection. A batch leaves out the members of the batches still running (theirs expire all of
those members' due lots), so running batches never share a member and never wait for each
other. They are left out of the page once read, not by its SQL: a list of a thousand ids to
leave out cost the read several times its own time. SQLite writes one transaction at a time:
one batch there.

Locking, PostgreSQL: the batch's member rows first, in id order, `FOR NO KEY UPDATE` — the
lock every points operation takes first (`wxmember.core.kernel.lock_member`), so a spend
waits for the batch or the batch for the spend, and two batches never hold each other's
members; the lots are read only once the members are locked. SQLite serialises writers.

On PostgreSQL a batch is two statements: the lock, then one data-modifying statement that
reads the due lots once and writes the entries, the allocations, the emptied lots and the
balances, giving back how many of each (checked as on SQLite). SQLite has no data-modifying
`WITH`: there the entries, allocations, lots and balances are four statements.

The SQL is written once in PostgreSQL's form; the dialect differences are `placeholders`
(`$n` is `?n` on SQLite), `ids_in` (an array against `json_each`) and the lock statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from handlers.points.lots import LedgerBroken
from wxmember.core.context import Services
from wxmember.core.localtime import whole_second
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models.points import PointsEntry, PointsLot
from wxmember.core.prepared import db_moment, ids_in, placeholders

REASON = "points_expired"
Cursor = tuple[datetime, int]

_LOCK = "SELECT id FROM members WHERE id {members} ORDER BY id FOR NO KEY UPDATE"

# `remaining > 0` as a constant, not a parameter: only then may a plan use the partial index.
_PAGE = """
SELECT expires_at, id, member_id FROM points_lots
WHERE remaining > 0 AND expires_at < $1{after}
ORDER BY expires_at, id
LIMIT $2
"""
_AFTER = " AND (expires_at, id) > ($3, $4)"

# The members' due lots, numbered per member in expiry order, and per member what they hold
# and which lot comes first. `{materialized}`: PostgreSQL reads them once for the whole batch.
_DUE = """
due AS {materialized}(
    SELECT id, member_id, remaining, expires_at,
           ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY expires_at, id) AS place
    FROM points_lots
    WHERE member_id {members} AND remaining > 0 AND expires_at < $2
), totals AS (
    SELECT member_id, SUM(remaining) AS total, MIN(CASE WHEN place = 1 THEN id END) AS first_lot
    FROM due GROUP BY member_id
)"""

# One entry per member: minus what their due lots hold, keyed by the first of those lots.
_EXPIRY_KEY = "'expire:' || CAST(m.id AS TEXT) || ':' || CAST(t.first_lot AS TEXT)"
_NEW_ENTRIES = f"""
INSERT INTO points_entries (member_id, kind, amount, balance_after, debt_change, debt_after,
    reason, reference, idempotency_key, refund_of_id, operator_id, expires_at, created_at)
SELECT m.id, 'expire', -t.total, m.points_balance - t.total, 0, m.points_debt,
    $3, NULL, {_EXPIRY_KEY}, NULL, NULL, NULL, $4
FROM members m JOIN totals t ON t.member_id = m.id
ORDER BY m.id
"""

_ENTRIES = "WITH " + _DUE.replace("{materialized}", "") + _NEW_ENTRIES + "RETURNING id\n"

# What each due lot gave to its member's new entry (the entries of this batch: ids $1).
_ALLOCATIONS = """
INSERT INTO points_allocations (entry_id, lot_id, amount)
SELECT e.id, l.id, l.remaining
FROM points_entries e JOIN points_lots l ON l.member_id = e.member_id
WHERE e.id {entries} AND l.remaining > 0 AND l.expires_at < $2
ORDER BY e.id, l.expires_at, l.id
RETURNING lot_id
"""

_EMPTY_LOTS = """
UPDATE points_lots SET remaining = 0
WHERE member_id {members} AND remaining > 0 AND expires_at < $2
"""

# Conditional: only a balance that is still what the entry was computed from, never below zero.
_BALANCES = """
UPDATE members SET points_balance = e.balance_after
FROM points_entries e
WHERE e.id {entries} AND members.id = e.member_id
  AND members.points_balance = e.balance_after - e.amount AND e.balance_after >= 0
"""


# PostgreSQL: the whole batch after the lock, the due lots read once. The entries are
# registered first (the ledger is partitioned: wxmember/core/partitioning.py). Lots and balances
# are changed only where they still are what the entries were computed from.
_BATCH = (
    "WITH "
    + _DUE.replace("{materialized}", "MATERIALIZED ")
    + f""", registered AS (
    INSERT INTO points_entry_keys (id, idempotency_key)
    SELECT nextval('points_entries_id_seq'), {_EXPIRY_KEY}
    FROM members m JOIN totals t ON t.member_id = m.id
    ORDER BY m.id
    RETURNING id, idempotency_key
), entries AS (
    INSERT INTO points_entries (id, member_id, kind, amount, balance_after, debt_change,
        debt_after, reason, reference, idempotency_key, refund_of_id, operator_id, expires_at,
        created_at)
    SELECT r.id, m.id, 'expire', -t.total, m.points_balance - t.total, 0, m.points_debt,
        $3, NULL, r.idempotency_key, NULL, NULL, NULL, $4
    FROM members m JOIN totals t ON t.member_id = m.id
    JOIN registered r ON r.idempotency_key = {_EXPIRY_KEY}
    """
    + """RETURNING id, member_id, amount, balance_after
), allocated AS (
    INSERT INTO points_allocations (entry_id, lot_id, amount)
    SELECT e.id, d.id, d.remaining
    FROM entries e JOIN due d ON d.member_id = e.member_id
    ORDER BY e.id, d.expires_at, d.id
    RETURNING lot_id
), emptied AS (
    UPDATE points_lots SET remaining = 0
    FROM due d
    WHERE points_lots.id = d.id AND points_lots.remaining = d.remaining
    RETURNING points_lots.id
), lowered AS (
    UPDATE members SET points_balance = e.balance_after
    FROM entries e
    WHERE members.id = e.member_id
      AND members.points_balance = e.balance_after - e.amount AND e.balance_after >= 0
    RETURNING members.id
)
SELECT (SELECT COUNT(*) FROM entries) AS entries, (SELECT COUNT(*) FROM allocated) AS allocated,
       (SELECT COUNT(*) FROM emptied) AS emptied, (SELECT COUNT(*) FROM lowered) AS lowered
"""
)
_COUNTS = ("entries", "allocated", "emptied", "lowered")


def _postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def due_lots_statement(
    conn: BaseDBAsyncClient, cutoff: datetime, after: Cursor | None, limit: int
) -> tuple[str, list[Any]]:
    """The SQL and parameters for `conn` of the next `limit` due lots after the cursor, in
    (expires_at, id) order: their (expires_at, id, member_id)."""
    parameters = [db_moment(PointsLot, "expires_at", cutoff), limit]
    if after is not None:
        parameters += [db_moment(PointsLot, "expires_at", after[0]), after[1]]
    sql = _PAGE.format(after="" if after is None else _AFTER)
    return placeholders(conn, sql), parameters


async def due_lots_page(
    cutoff: datetime, after: Cursor | None, limit: int
) -> tuple[list[int], Cursor | None]:
    """The members of the next `limit` due lots after the cursor (one per lot, in order), and
    the cursor after them (None once no lot is left)."""
    conn = connections.get("default")
    _, rows = await conn.execute_query(*due_lots_statement(conn, cutoff, after, limit))
    if not rows:
        return [], None
    last = rows[-1]
    moment = PointsLot._meta.fields_map["expires_at"].to_python_value(last["expires_at"])
    return [int(row["member_id"]) for row in rows], (moment, int(last["id"]))


async def expire_members_lots(
    conn: BaseDBAsyncClient, member_ids: Sequence[int], now: datetime, reason: str = REASON
) -> int:
    """Expire the due lots of these members in `conn`'s transaction; the number of lots.

    Locks the members first (PostgreSQL), in id order.
    """
    members = sorted(set(member_ids))
    if not members:
        return 0
    changed_everyone()  # a batch of members: one flag rather than a set that grows with the run
    members_sql, members_param = ids_in(conn, members)
    cutoff = db_moment(PointsLot, "expires_at", whole_second(now))
    created_at = db_moment(PointsEntry, "created_at", now)
    if _postgres(conn):
        await conn.execute_query(_LOCK.format(members=members_sql), [members_param])
        counts = await conn.execute_query_dict(
            _BATCH.format(members=members_sql), [members_param, cutoff, reason, created_at]
        )
        entries, allocated, emptied, lowered = (int(counts[0][key]) for key in _COUNTS)
    else:
        entries, allocated, emptied, lowered = await _expire_in_steps(
            conn, members_sql, members_param, cutoff, reason, created_at
        )
    if emptied != allocated:
        raise LedgerBroken(f"{allocated} lots allocated but {emptied} emptied under a lock")
    if lowered != entries:
        raise LedgerBroken(f"{entries - lowered} balances below their lots or changed")
    return emptied


async def _expire_in_steps(
    conn: BaseDBAsyncClient,
    members_sql: str,
    members_param: object,
    cutoff: object,
    reason: str,
    created_at: object,
) -> tuple[int, int, int, int]:
    """SQLite's batch, one statement per table: (entries, allocated, emptied, lowered)."""
    sql = placeholders(conn, _ENTRIES.format(members=members_sql))
    rows = await conn.execute_query_dict(sql, [members_param, cutoff, reason, created_at])
    entries = [int(row["id"]) for row in rows]
    if not entries:
        return 0, 0, 0, 0
    entries_sql, entries_param = ids_in(conn, entries)
    # Counted from RETURNING: the drivers do not all report an INSERT's rows.
    allocated = len(
        await conn.execute_query_dict(
            placeholders(conn, _ALLOCATIONS.format(entries=entries_sql)), [entries_param, cutoff]
        )
    )
    emptied, _ = await conn.execute_query(
        placeholders(conn, _EMPTY_LOTS.format(members=members_sql)), [members_param, cutoff]
    )
    lowered, _ = await conn.execute_query(
        placeholders(conn, _BALANCES.format(entries=entries_sql)), [entries_param]
    )
    return len(entries), allocated, emptied, lowered


async def expire_due_lots(
    services: Services,
    *,
    now: datetime | None = None,
    batch_size: int = 1000,
    at_once: int | None = None,
) -> int:
    """Expire every lot past its date, a batch of members per transaction; the lots expired.

    `at_once` batches run side by side on PostgreSQL (default `points.expiry_batches_at_once`).
    """
    moment = now or services.clock.now()
    cutoff = whole_second(moment)
    if connections.get("default").capabilities.dialect != "postgres":
        at_once = 1
    elif at_once is None:
        at_once = services.config.points.expiry_batches_at_once
    cursor: Cursor | None = None
    expired = 0
    running: dict[asyncio.Task[int], frozenset[int]] = {}
    try:
        while True:
            page, cursor = await due_lots_page(cutoff, cursor, batch_size)
            if cursor is None:
                break
            # A running batch expires all of its members' due lots: theirs are left out here.
            held = frozenset().union(*running.values())
            members = frozenset(page) - held
            if not members:
                continue
            running[asyncio.create_task(_expire_batch(members, moment))] = members
            if len(running) >= at_once:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del running[task]
                    expired += task.result()
        for task in list(running):
            expired += await task
            del running[task]
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    return expired


async def _expire_batch(members: frozenset[int], moment: datetime) -> int:
    async with in_transaction() as conn:
        return await expire_members_lots(conn, sorted(members), moment)
