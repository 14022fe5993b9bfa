"""Writing ledger entries: the steps every points operation shares.

Each runs inside the operation's transaction with the member's row locked once
(`wxmember.core.kernel.lock_member`) and passed down as a `LockedMember`. The first
ledger change of a transaction expires the member's due lots (`open_account`), so the balance
is spendable as is. The entry is inserted first, by an insert that does nothing on a taken key
(`InsertRow` with `skip_taken`): if a call with the same idempotency key committed first, the
insert finds the key taken and the caller gets the entry that won (`credit`/`debit` return it
with `False`) instead of changing anything twice. The balance moves and a credit's lots are
written only with the entry: on PostgreSQL in the same statement, on SQLite right after it.
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
from wxmember.core.kernel import LockedMember
from wxmember.core.models import Member, Operator
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot
from wxmember.core.prepared import (
    InsertRow,
    db_moment,
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
    lots = settle_portions(portions, settle)
    written = await _write(
        conn, _Change(entry, values, _CREDIT, [net, settle, member.id], lots, now)
    )
    if written is None:
        return await replay(account, key, kind, gross), False
    member.points_balance += net
    member.points_debt -= settle
    return written, True


_INSERT_ENTRY = InsertRow(PointsEntry, skip_taken=True)


@dataclass(frozen=True)
class _Change:
    """What a ledger change writes, worked out before it writes any of it: the entry, the move
    of the member's balance and debt, and for a credit its lots."""

    entry: PointsEntry  # the new entry, without its id
    values: list[Any]  # the entry's values, as its insert takes them
    move: str  # `_CREDIT` or `_DEBIT`
    moved: list[Any]  # its parameters
    lots: Portions  # a credit's lots, after the debt took its part
    now: datetime


async def _write(conn: BaseDBAsyncClient, change: _Change) -> PointsEntry | None:
    """The change's entry, balance and lots; None, with nothing written, when the entry's key is
    taken. A move that matches no row (the row changed under the member's lock) stops it."""
    if conn.capabilities.dialect == "postgres":
        return await _write_at_once(conn, change)
    return await _write_step_by_step(conn, change)


def _moved_nothing(change: _Change) -> LedgerBroken:
    return LedgerBroken(f"member {change.entry.member_id}: points changed under a lock")


async def _write_step_by_step(conn: BaseDBAsyncClient, change: _Change) -> PointsEntry | None:
    """One statement after another (SQLite, where a statement costs no round trip)."""
    entry = change.entry
    if await _INSERT_ENTRY.write(conn, entry, change.values) is None:
        return None
    moved, _ = await conn.execute_query(placeholders(conn, change.move), change.moved)
    if moved != 1:
        raise _moved_nothing(change)
    await create_lots(conn, entry.member_id, entry, change.lots, change.now)
    return entry


async def _write_at_once(conn: BaseDBAsyncClient, change: _Change) -> PointsEntry | None:
    """In one PostgreSQL statement, whose parts move the balance and write the lots only if the
    entry was written."""
    sql = _AT_ONCE.get(change.move)
    if sql is None:
        # The entry's parameters first, then the move's three, then the lots' four.
        written, width = _INSERT_ENTRY.within(conn, "entry")
        move = shifted(change.move, width).rstrip() + " AND EXISTS (SELECT 1 FROM entry)"
        lots = shifted(LOTS_OF_NEW_ENTRY, width + 3)
        sql = _AT_ONCE[change.move] = (
            f"WITH {written}, moved AS ({move} RETURNING 1)"
            + (f", lots AS ({lots})" if change.move == _CREDIT else "")
            + ' SELECT "id", (SELECT COUNT(*) FROM moved) FROM entry'
        )
    entry = change.entry
    parameters = [*change.values, *change.moved]
    if change.move == _CREDIT:
        kept = [(expires_at, amount) for expires_at, amount in change.lots if amount > 0]
        moment = partial(db_moment, PointsLot, "expires_at")
        parameters += [
            [amount for _, amount in kept],
            [moment(expires_at) for expires_at, _ in kept],
            moment(change.now),
            entry.member_id,
        ]
    rows = await read_rows(conn, sql, parameters)
    if not rows:
        return None
    key, moved = rows[0]
    if moved != 1:
        raise _moved_nothing(change)
    return saved(entry, key)


_AT_ONCE: dict[str, str] = {}  # by move, built at first use from the models' columns


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
    entry, values = _INSERT_ENTRY.parameters(
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
    written = await _write(
        conn, _Change(entry, values, _DEBIT, [taken, shortfall, member.id], [], now)
    )
    if written is None:
        return await replay(account, key, kind, -amount), False
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
