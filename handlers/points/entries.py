"""Writing ledger entries: the steps every points operation shares.

Each runs inside the operation's transaction with the member's row locked (`open_account`).
The entry is inserted first, in a savepoint: if a concurrent call with the same idempotency
key committed first, the insert fails, the savepoint is rolled back, and the caller gets the
entry that won (`credit`/`debit` return it with `False`) instead of changing anything twice.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from handlers.points.lots import (
    LedgerBroken,
    create_lots,
    expire_member_lots,
    lock_member,
    settle_portions,
    take_from_lots,
)
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, ValidationFailed
from wxmember.core.models import Member, Operator
from wxmember.core.models.points import EntryKind, PointsEntry

MAX_AMOUNT = 100_000_000
Portions = list[tuple[datetime, int]]


def check(amount: int, reason: str, idempotency_key: str, reference: str | None = None) -> None:
    """Refuse arguments the ledger cannot store (a caller's mistake, never a member's)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise ValidationFailed(f"amount must be 1..{MAX_AMOUNT}.", code="invalid_amount")
    if not 1 <= len(reason) <= 200:
        raise ValidationFailed("reason must be 1..200 characters.", code="invalid_reason")
    if not 1 <= len(idempotency_key) <= 128:
        raise ValidationFailed(
            "idempotency_key must be 1..128 characters.", code="invalid_idempotency_key"
        )
    if reference is not None and len(reference) > 64:
        raise ValidationFailed("reference must be at most 64 characters.", code="invalid_reference")


async def prior_entry(
    key: str,
    member_id: int | None,
    kind: EntryKind,
    gross: int | None,
    conn: BaseDBAsyncClient | None,
) -> PointsEntry | None:
    """The entry already written under this key, if it is the same operation; 409 otherwise."""
    entry = await PointsEntry.filter(idempotency_key=key).using_db(conn).first()
    if entry is None:
        return None
    if (
        entry.kind != kind
        or (member_id is not None and entry.member_id != member_id)  # type: ignore[attr-defined]
        or (gross is not None and entry.gross_amount != gross)
    ):
        raise key_reused()
    return entry


def key_reused() -> Conflict:
    """409 for a key already used by a different change."""
    return Conflict(
        "This idempotency key was used for a different points change.",
        code="idempotency_key_reused",
    )


async def insert(conn: BaseDBAsyncClient, **values: object) -> PointsEntry | None:
    """Insert the entry in a savepoint; None if its idempotency key was taken meanwhile."""
    try:
        async with conn._in_transaction() as savepoint:
            return await PointsEntry.create(**values, using_db=savepoint)
    except IntegrityError:
        return None


def insufficient(balance: int, needed: int) -> Conflict:
    """409 `insufficient_points`, with the balance and what was needed."""
    return Conflict(
        "Not enough points.",
        code="insufficient_points",
        details={"balance": balance, "needed": needed},
    )


async def credit(
    conn: BaseDBAsyncClient,
    member: Member,
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
    gross = sum(amount for _, amount in portions)
    settle = min(member.points_debt, gross)
    net = gross - settle
    entry = await insert(
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
    if entry is None:
        return await replay(conn, key, member.id, kind, gross), False
    changed = await (
        Member.filter(id=member.id, points_debt__gte=settle)
        .using_db(conn)
        .update(points_balance=F("points_balance") + net, points_debt=F("points_debt") - settle)
    )
    if changed != 1:
        raise LedgerBroken(f"member {member.id}: debt changed under a lock")
    member.points_balance += net
    member.points_debt -= settle
    await create_lots(conn, member.id, entry, settle_portions(portions, settle), now)
    return entry, True


async def debit(
    conn: BaseDBAsyncClient,
    member: Member,
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
    taken = min(member.points_balance, amount)
    shortfall = amount - taken
    if shortfall and not allow_debt:
        # A retry that waited for the lock while its first attempt spent: answer with that.
        earlier = await prior_entry(key, member.id, kind, -amount, conn)
        if earlier is not None:
            return earlier, False
        raise insufficient(member.points_balance, amount)
    entry = await insert(
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
        return await replay(conn, key, member.id, kind, -amount), False
    changed = await (
        Member.filter(id=member.id, points_balance__gte=taken)
        .using_db(conn)
        .update(
            points_balance=F("points_balance") - taken,
            points_debt=F("points_debt") + shortfall,
        )
    )
    if changed != 1:
        raise insufficient(member.points_balance, amount)
    member.points_balance -= taken
    member.points_debt += shortfall
    if taken:
        await take_from_lots(conn, member.id, taken, entry, first_from_entry_id=first_from_entry_id)
    return entry, True


async def replay(
    conn: BaseDBAsyncClient, key: str, member_id: int, kind: EntryKind, gross: int
) -> PointsEntry:
    """The entry that won a race for this key (it must exist: the insert clashed on it)."""
    entry = await prior_entry(key, member_id, kind, gross, conn)
    if entry is None:
        raise LedgerBroken(f"idempotency key {key!r} clashed but no entry has it")
    return entry


async def open_account(conn: BaseDBAsyncClient, services: Services, member_id: int) -> Member:
    """Lock the member and expire their past-date lots, so the balance is spendable as is."""
    member = await lock_member(conn, member_id)
    await expire_member_lots(conn, member, services.clock.now())
    return member
