"""Writing ledger entries: the steps every points operation shares.

Each runs inside the operation's transaction with the member's row locked once
(`wxmember.core.kernel.lock_member`) and passed down as a `LockedMember`. The first
ledger change of a transaction expires the member's due lots (`open_account`), so the balance
is spendable as is. The entry is inserted first, by an insert that does nothing on a taken key
(`insert_once`): if a call with the same idempotency key committed first, the insert finds the
key taken and the caller gets the entry that won (`credit`/`debit` return it with `False`)
instead of changing anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from handlers.points.lots import (
    LOTS_OF_NEW_ENTRY,
    LedgerBroken,
    create_lots,
    expire_member_lots,
    settle_portions,
    take_from_lots,
)
from wxmember.core.context import Services
from wxmember.core.errors import IdempotencyKeyReused, InsufficientPoints, ValidationFailed
from wxmember.core.kernel import LockedMember, insert_once
from wxmember.core.models import Member, Operator
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot
from wxmember.core.prepared import (
    InsertRow,
    db_moment,
    first_row_of_insert,
    placeholders,
    read_rows,
    saved,
    shifted,
)

MAX_AMOUNT = 100_000_000
Portions = list[tuple[datetime, int]]
_EXPIRED = "points.expired"


def _limit(ledger: type[Model], column: str) -> int:
    """The length a ledger's text column holds: the model is the one place it is written."""
    length = ledger._meta.fields_map[column].max_length  # type: ignore[attr-defined]  # CharField
    return int(length)


def check(
    amount: int,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
    *,
    signed: bool = False,
    ledger: type[Model] = PointsEntry,
) -> None:
    """Refuse arguments a ledger cannot store (a caller's mistake, never a member's).

    Amounts are 1..MAX_AMOUNT, or with `signed` any non-zero amount within ±MAX_AMOUNT; texts
    fit the ledger's columns (the points ledger by default; the growth ledger keeps the same
    rules with its own, shorter reasons).
    """
    valid = isinstance(amount, int) and not isinstance(amount, bool)
    if not valid or not (0 < (abs(amount) if signed else amount) <= MAX_AMOUNT):
        bound = f"±{MAX_AMOUNT}, not zero" if signed else f"1..{MAX_AMOUNT}"
        raise ValidationFailed(f"amount must be {bound}.", code="invalid_amount")
    for name, value, required in (
        ("reason", reason, True),
        ("idempotency_key", idempotency_key, True),
        ("reference", reference, False),
    ):
        if value is None and not required:
            continue
        limit = _limit(ledger, name)
        if not isinstance(value, str) or not int(required) <= len(value) <= limit:
            raise ValidationFailed(
                f"{name} must be {int(required)}..{limit} characters.", code=f"invalid_{name}"
            )


async def prior_entry(
    key: str,
    member_id: int | None,
    kind: EntryKind,
    gross: int | None,
    account: LockedMember | None = None,
) -> PointsEntry | None:
    """The entry already written under this key, if it is the same operation; 409 otherwise."""
    conn = account.conn if account is not None else None
    entry = await PointsEntry.filter(idempotency_key=key).using_db(conn).first()
    if entry is None:
        return None
    if (
        entry.kind != kind
        or (member_id is not None and entry.member_id != member_id)
        or (gross is not None and entry.gross_amount != gross)
    ):
        raise key_reused()
    return entry


def key_reused() -> IdempotencyKeyReused:
    """409 for a key already used by a different change."""
    return IdempotencyKeyReused("This idempotency key was used for a different points change.")


async def open_account(services: Services, account: LockedMember) -> Member:
    """The locked member with their past-date lots expired (once per transaction)."""
    if _EXPIRED not in account.done:
        await expire_member_lots(account.conn, account.row, services.clock.now())
        account.done.add(_EXPIRED)
    return account.row


# The balance and debt move by conditional updates: a row that changed under the lock would
# match no row, and the caller stops (LedgerBroken) instead of writing a wrong balance.
_CREDIT = """
UPDATE "members" SET "points_balance" = "points_balance" + $1, "points_debt" = "points_debt" - $2
WHERE "id" = $3 AND "points_debt" >= $2
"""
_DEBIT = """
UPDATE "members" SET "points_balance" = "points_balance" - $1, "points_debt" = "points_debt" + $2
WHERE "id" = $3 AND "points_balance" >= $1
"""


async def credit(
    account: LockedMember,
    now: datetime,
    kind: EntryKind,
    portions: Portions,
    *,
    reason: str,
    key: str,
    reference: str | None,
    refund_of: PointsEntry | None = None,
    operator: Operator | None = None,
) -> tuple[PointsEntry, bool]:
    """Add points as lots, settling debt first; the entry and whether this call wrote it."""
    conn, member = account.conn, account.row
    gross = sum(amount for _, amount in portions)
    settle = min(member.points_debt, gross)
    net = gross - settle
    entry, values = _INSERT_ENTRY.parameters(
        conn,
        member_id=member.id,
        kind=kind,
        amount=net,
        balance_after=member.points_balance + net,
        debt_change=-settle,
        debt_after=member.points_debt - settle,
        reason=reason,
        reference=reference,
        idempotency_key=key,
        refund_of=refund_of,
        operator=operator,
        expires_at=min(expires_at for expires_at, _ in portions),
        created_at=now,
    )
    writes = _Credit(entry, values, net, settle, settle_portions(portions, settle), now)
    if conn.capabilities.dialect == "postgres":
        written = await _credit_at_once(conn, writes)
    else:
        written = await _credit_step_by_step(conn, writes)
    if written is None:
        return await replay(account, key, kind, gross), False
    member.points_balance += net
    member.points_debt -= settle
    return written, True


_INSERT_ENTRY = InsertRow(PointsEntry, skip_taken=True)


@dataclass(frozen=True)
class _Credit:
    """What a credit writes, worked out before it writes any of it."""

    entry: PointsEntry  # the new entry, without its id
    values: list[Any]  # the entry's values, as its insert takes them
    net: int  # the points the balance gains
    settle: int  # the debt they pay off first
    lots: Portions  # the lots, after the debt took its part
    now: datetime


async def _credit_step_by_step(conn: BaseDBAsyncClient, writes: _Credit) -> PointsEntry | None:
    """A credit's writes one statement after another (SQLite, where a statement costs no round
    trip): the entry, or None when its key is taken; then the balance and the lots."""
    entry = writes.entry
    row = await first_row_of_insert(conn, _INSERT_ENTRY.statement(conn), writes.values)
    if saved(entry, row[0] if row is not None else None) is None:
        return None
    changed, _ = await conn.execute_query(
        placeholders(conn, _CREDIT), [writes.net, writes.settle, entry.member_id]
    )
    if changed != 1:
        raise LedgerBroken(f"member {entry.member_id}: debt changed under a lock")
    await create_lots(conn, entry.member_id, entry, writes.lots, writes.now)
    return entry


async def _credit_at_once(conn: BaseDBAsyncClient, writes: _Credit) -> PointsEntry | None:
    """A credit's writes in one PostgreSQL statement: the same entry, balance and lots as
    `_credit_step_by_step`, and nothing at all when the entry's key is taken."""
    sql = _CREDIT_AT_ONCE.get("postgres")
    if sql is None:
        # The entry's parameters first, then `_CREDIT`'s three, then the lots' four.
        written, width = _INSERT_ENTRY.within(conn, "entry")
        balance = shifted(_CREDIT, width).rstrip() + " AND EXISTS (SELECT 1 FROM entry)"
        sql = _CREDIT_AT_ONCE["postgres"] = (
            f"WITH {written}, balance AS ({balance} RETURNING 1), "
            f"lots AS ({shifted(LOTS_OF_NEW_ENTRY, width + 3)}) "
            'SELECT "id", (SELECT COUNT(*) FROM balance) FROM entry'
        )
    entry = writes.entry
    kept = [(expires_at, amount) for expires_at, amount in writes.lots if amount > 0]
    moment = partial(db_moment, PointsLot, "expires_at")
    rows = await read_rows(
        conn,
        sql,
        [
            *writes.values,
            writes.net,
            writes.settle,
            entry.member_id,
            [amount for _, amount in kept],
            [moment(expires_at) for expires_at, _ in kept],
            moment(writes.now),
            entry.member_id,
        ],
    )
    if not rows:
        return None
    key, changed = rows[0]
    if changed != 1:
        raise LedgerBroken(f"member {entry.member_id}: debt changed under a lock")
    return saved(entry, key)


_CREDIT_AT_ONCE: dict[str, str] = {}  # built at first use, from the models' columns


async def debit(
    account: LockedMember,
    now: datetime,
    kind: EntryKind,
    amount: int,
    *,
    reason: str,
    key: str,
    reference: str | None,
    allow_debt: bool = False,
    first_from_entry_id: int | None = None,
    operator: Operator | None = None,
) -> tuple[PointsEntry, bool]:
    """Take points out, earliest expiry first; what is missing is debt or a 409."""
    conn, member = account.conn, account.row
    taken = min(member.points_balance, amount)
    shortfall = amount - taken
    if shortfall and not allow_debt:
        # A retry that waited for the lock while its first attempt spent: answer with that.
        earlier = await prior_entry(key, member.id, kind, -amount, account)
        if earlier is not None:
            return earlier, False
        raise InsufficientPoints(balance=member.points_balance, needed=amount)
    entry = await insert_once(
        PointsEntry,
        conn,
        member_id=member.id,
        kind=kind,
        amount=-taken,
        balance_after=member.points_balance - taken,
        debt_change=shortfall,
        debt_after=member.points_debt + shortfall,
        reason=reason,
        reference=reference,
        idempotency_key=key,
        operator=operator,
        created_at=now,
    )
    if entry is None:
        return await replay(account, key, kind, -amount), False
    changed, _ = await conn.execute_query(placeholders(conn, _DEBIT), [taken, shortfall, member.id])
    if changed != 1:
        raise LedgerBroken(f"member {member.id}: balance changed under a lock")
    member.points_balance -= taken
    member.points_debt += shortfall
    if taken:
        await take_from_lots(conn, member.id, taken, entry, first_from_entry_id=first_from_entry_id)
    return entry, True


async def replay(account: LockedMember, key: str, kind: EntryKind, gross: int) -> PointsEntry:
    """The entry that won a race for this key (it must exist: the insert clashed on it)."""
    entry = await prior_entry(key, account.id, kind, gross, account)
    if entry is None:
        raise LedgerBroken(f"idempotency key {key!r} clashed but no entry has it")
    return entry
