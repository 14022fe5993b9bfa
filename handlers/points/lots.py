"""Point lots: when earned points expire, and taking points out of lots in expiry order.

Expiry policies (`config.points.expiry_policy`), all in the brand's local time:

- `rolling`: `rolling_months` after the day of earning, at the end (23:59:59) of that local day;
  a month-end date is clamped (Aug 31 + 6 months is the end of Feb 28, or 29 in a leap year);
- `year_end`: points earned in local year Y expire at the last second of Dec 31 of Y+1;
- `never`: lots carry `NEVER_EXPIRES`.

A lot counts as expired once the clock is past `expires_at` (whole seconds), so points can be
used during the last second of their day. Everything here runs inside the caller's transaction,
with the member's row already locked (`wxmember.core.kernel.lock_member`), which is
what makes reading the lots and then updating them safe; the conditional updates are a second guard.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from wxmember.core.config import Config
from wxmember.core.localtime import end_of_local_day, whole_second
from wxmember.core.models import Member
from wxmember.core.models.points import (
    NEVER_EXPIRES,
    EntryKind,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)
from wxmember.core.prepared import (
    InsertRow,
    InsertRows,
    db_moment,
    ids_in,
    placeholders,
    read_rows,
    shifted,
)

_LOT_PAGE = 20
_INSERT_LOT = InsertRow(PointsLot)
_INSERT_EXPIRY = InsertRow(PointsEntry)
_INSERT_ALLOCATIONS = InsertRows(PointsAllocation)
_OPEN_LOTS = """
SELECT {columns} FROM "points_lots" WHERE "member_id" = $1 AND "remaining" > 0
ORDER BY "expires_at", "id" LIMIT {page}
"""
_OPEN_LOTS_OF_ENTRY = """
SELECT {columns} FROM "points_lots" WHERE "member_id" = $1 AND "remaining" > 0
AND "entry_id" = $2 ORDER BY "expires_at", "id" LIMIT {page}
"""
# Lots are taken by conditional updates: a lot that changed under the lock matches no row.
_TAKE_PART = (
    'UPDATE "points_lots" SET "remaining" = "remaining" - $1 WHERE "id" = $2 AND "remaining" >= $1'
)
_EMPTY = 'UPDATE "points_lots" SET "remaining" = 0 WHERE "id" {ids} AND "remaining" > 0'
# Whether the member has a lot past its date: asked by every first ledger change of a
# transaction, and nearly always answered "no".
_ANY_DUE = """
SELECT 1 FROM "points_lots" WHERE "member_id" = $1 AND "remaining" > 0 AND "expires_at" < $2
LIMIT 1
"""


class LedgerBroken(RuntimeError):
    """A conditional update found the rows different from what the locked read showed."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_for(config: Config, earned_at: datetime) -> datetime:
    """When points earned at this moment expire under the configured policy."""
    policy = config.points.expiry_policy
    if policy == "never":
        return NEVER_EXPIRES
    tz = config.brand.tz
    local_day = earned_at.astimezone(tz).date()
    if policy == "year_end":
        return end_of_local_day(date(local_day.year + 1, 12, 31), tz)
    return end_of_local_day(add_months(local_day, config.points.rolling_months), tz)


def shown_expiry(expires_at: datetime | None) -> str | None:
    """An expiry for the API: ISO 8601 in UTC, or null for points that never expire."""
    if expires_at is None or expires_at >= NEVER_EXPIRES:
        return None
    return expires_at.astimezone(UTC).isoformat()


async def create_lots(
    conn: BaseDBAsyncClient,
    member_id: int,
    entry: PointsEntry,
    portions: Sequence[tuple[datetime, int]],
    now: datetime,
) -> None:
    """Credit portions (expiry, points) as lots of this entry; empty portions are skipped."""
    for expires_at, amount in portions:
        if amount > 0:
            await _INSERT_LOT.insert(
                conn,
                member_id=member_id,
                entry_id=entry.id,
                amount=amount,
                remaining=amount,
                expires_at=expires_at,
                created_at=now,
            )


# `create_lots` as part of a PostgreSQL statement that writes the entry as `entry`: the portions'
# amounts ($1) and expiries ($2) as arrays (empty portions left out), the moment ($3), the member
# ($4).
LOTS_OF_NEW_ENTRY = """
INSERT INTO "points_lots"
("amount", "remaining", "expires_at", "created_at", "entry_id", "member_id")
SELECT "portion"."amount", "portion"."amount", "portion"."expires_at", $3, entry."id", $4
FROM entry, unnest($1::integer[], $2::timestamptz[]) AS "portion" ("amount", "expires_at")
"""


def settle_portions(
    portions: Sequence[tuple[datetime, int]], settle: int
) -> list[tuple[datetime, int]]:
    """Remove `settle` points from credit portions, earliest expiry first (they pay the debt)."""
    kept: list[tuple[datetime, int]] = []
    for expires_at, amount in sorted(portions, key=lambda portion: portion[0]):
        used = min(amount, settle)
        settle -= used
        if amount - used:
            kept.append((expires_at, amount - used))
    return kept


async def take_from_lots(
    conn: BaseDBAsyncClient,
    member_id: int,
    amount: int,
    entry: PointsEntry,
    *,
    first_from_entry_id: int | None = None,
) -> None:
    """Take `amount` points out of the member's lots and record where they came from.

    Earliest expiry first, then oldest lot. With `first_from_entry_id` the lots that entry
    created go first (a refunded purchase takes back its own points before any others).
    """
    need = amount
    sources = [None] if first_from_entry_id is None else [first_from_entry_id, None]
    for source in sources:
        while need > 0:
            lots = await _open_lots(conn, member_id, source)
            if not lots:
                break
            need = await _consume(conn, lots, need, entry)
    if need > 0:
        raise LedgerBroken(f"member {member_id}: lots hold less than the balance")


async def _open_lots(
    conn: BaseDBAsyncClient, member_id: int, entry_id: int | None
) -> list[PointsLot]:
    """A page of the member's lots holding points, in the order they are spent (only those
    `entry_id` created, if given)."""
    columns = sorted(PointsLot._meta.db_fields)
    sql = _OPEN_LOTS if entry_id is None else _OPEN_LOTS_OF_ENTRY
    sql = sql.format(columns=", ".join(f'"{column}"' for column in columns), page=_LOT_PAGE)
    parameters = [member_id] if entry_id is None else [member_id, entry_id]
    _, rows = await conn.execute_query(placeholders(conn, sql), parameters)
    return [PointsLot._init_from_db(**dict(zip(columns, row, strict=True))) for row in rows]


async def _consume(
    conn: BaseDBAsyncClient, lots: list[PointsLot], need: int, entry: PointsEntry
) -> int:
    """Take up to `need` points from `lots`, in their order, for `entry`; what is still needed.

    Every lot but the last taken from is emptied; the last may give part of what it holds. The
    lots and the allocations that record where the points went are written together: on
    PostgreSQL by one statement, on SQLite one after another.
    """
    emptied: list[int] = []
    part: tuple[int, int] | None = None  # lot, points taken from it
    allocations: list[dict[str, int]] = []
    for lot in lots:
        if need == 0:
            break
        take = min(lot.remaining, need)
        need -= take
        allocations.append({"entry_id": entry.id, "lot_id": lot.id, "amount": take})
        if take == lot.remaining:
            emptied.append(lot.id)
        else:
            part = (lot.id, take)
    if conn.capabilities.dialect == "postgres":
        await _take_at_once(conn, entry.id, emptied, part, allocations)
    else:
        await _take_step_by_step(conn, emptied, part, allocations)
    return need


async def _take_step_by_step(
    conn: BaseDBAsyncClient,
    emptied: list[int],
    part: tuple[int, int] | None,
    allocations: list[dict[str, int]],
) -> None:
    if part is not None:
        lot_id, take = part
        changed, _ = await conn.execute_query(placeholders(conn, _TAKE_PART), [take, lot_id])
        if changed != 1:
            raise LedgerBroken(f"lot {lot_id} changed under a lock")
    if emptied:
        condition, ids = ids_in(conn, emptied)
        sql = placeholders(conn, _EMPTY.format(ids=condition))
        changed, _ = await conn.execute_query(sql, [ids])
        if changed != len(emptied):
            raise LedgerBroken("lots changed under a lock")
    await _INSERT_ALLOCATIONS.insert(conn, allocations)


# `_take_step_by_step` as one statement: the emptied lots ($1), the part taken ($2) from a lot
# ($3, NULL for none), the allocations of an entry ($4) to lots ($5) of amounts ($6).
# The emptied lots' ids are read through a subquery: a plan for the ids as given (most often
# none) always looked cheaper to PostgreSQL than one for any ids, so it planned every spend anew
# (about 0.13 ms of its CPU each); the subquery is costed the same either way, and one plan
# serves every call.
_TAKE_AT_ONCE = f"""
WITH emptied AS ({_EMPTY.format(ids="= ANY(ARRAY(SELECT unnest($1::bigint[])))")} RETURNING 1),
part AS ({shifted(_TAKE_PART, 1)} RETURNING 1),
taken AS (
INSERT INTO "points_allocations" ("entry_id", "lot_id", "amount")
SELECT $4, "taken"."lot", "taken"."amount"
FROM unnest($5::bigint[], $6::integer[]) AS "taken" ("lot", "amount"))
SELECT (SELECT COUNT(*) FROM emptied), (SELECT COUNT(*) FROM part)
"""


async def _take_at_once(
    conn: BaseDBAsyncClient,
    entry_id: int,
    emptied: list[int],
    part: tuple[int, int] | None,
    allocations: list[dict[str, int]],
) -> None:
    lot_id, take = part if part is not None else (None, 0)
    [(emptied_now, part_now)] = await read_rows(
        conn,
        _TAKE_AT_ONCE,
        [
            emptied,
            take,
            lot_id,
            entry_id,
            [allocation["lot_id"] for allocation in allocations],
            [allocation["amount"] for allocation in allocations],
        ],
    )
    if emptied_now != len(emptied) or part_now != (part is not None):
        raise LedgerBroken("lots changed under a lock")


async def expire_member_lots(
    conn: BaseDBAsyncClient, member: Member, now: datetime, reason: str = "points_expired"
) -> int:
    """Expire the locked member's lots that are past their date; the number of lots expired.

    Writes one `expire` entry for all of them and lowers `member.points_balance` (the row and
    the instance) by what they still held.
    """
    cutoff = whole_second(now)
    _, anything = await conn.execute_query(
        placeholders(conn, _ANY_DUE), [member.id, db_moment(PointsLot, "expires_at", cutoff)]
    )
    if not anything:
        return 0
    due = await (
        PointsLot.filter(member_id=member.id, remaining__gt=0, expires_at__lt=cutoff)
        .order_by("expires_at", "id")
        .using_db(conn)
    )
    if not due:
        return 0
    total = sum(lot.remaining for lot in due)
    # A lot expires once (its remaining drops to zero for good), so its id names the expiry.
    entry = await _INSERT_EXPIRY.insert(
        conn,
        member_id=member.id,
        kind=EntryKind.EXPIRE,
        amount=-total,
        balance_after=member.points_balance - total,
        debt_after=member.points_debt,
        reason=reason,
        idempotency_key=f"expire:{member.id}:{due[0].id}",
        created_at=now,
    )
    if entry is None:
        raise LedgerBroken(f"member {member.id}: expiry entry not written")
    changed = await (
        Member.filter(id=member.id, points_balance__gte=total)
        .using_db(conn)
        .update(points_balance=F("points_balance") - total)
    )
    if changed != 1:
        raise LedgerBroken(f"member {member.id}: balance below its lots")
    member.points_balance -= total
    await _consume(conn, due, total, entry)
    return len(due)


def expiring_window(now: datetime, days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From now to the end of the local day `days` days ahead: "expiring within 30 days"."""
    last_day = now.astimezone(tz).date() + timedelta(days=days)
    return whole_second(now), end_of_local_day(last_day, tz)
