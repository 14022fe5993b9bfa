"""The points ledger: earning, spending, giving back, taking back, adjusting, expiring.

Every change is one immutable `PointsEntry` with a unique idempotency key: the same key again
returns the first entry and changes nothing (the same key for a different member, kind or amount
is a 409 `idempotency_key_reused`). Each operation takes a member id (and is then one
transaction of its own) or the caller's `LockedMember` (and joins that transaction, with the row
locked once for the whole flow). In it: the first change expires the member's lots that are past
their date, then the operation writes the entry (an insert that does nothing on a taken key, so
a concurrent insert of the same key is answered with the row that won), changes the balance by a
conditional update that cannot go below zero, and creates or consumes lots (earliest expiry
first).
The scheduled job expires every member's due lots in batches (`handlers.points.expiry`).

Points debt (`config.points.refund_shortfall = "debt"`): a take-back larger than the balance
takes what there is and records the rest as debt; credits settle debt before the balance
grows. See wxmember/core/models/points.py for the invariants.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.points.entries import (
    MAX_AMOUNT,
    check,
    credit,
    debit,
    key_reused,
    open_account,
    prior_entry,
)
from handlers.points.expiry import expire_due_lots
from handlers.points.lots import expire_member_lots, expiry_for
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound
from wxmember.core.headers import STAFF_IDEMPOTENCY_KEY
from wxmember.core.kernel import LockedMember, MemberRef, lock_member, member_lock
from wxmember.core.localtime import whole_second
from wxmember.core.models import Member, Operator
from wxmember.core.models.points import EntryKind, PointsAllocation, PointsEntry, PointsLot

__all__ = [
    "MAX_AMOUNT",
    "adjust",
    "adjustment_key",
    "earn",
    "expire_due_lots",
    "expire_member",
    "refund_spend",
    "spend",
    "take_back",
]


async def earn(
    services: Services,
    member: MemberRef,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> PointsEntry:
    """Credit points as a new lot (expiring by policy unless given); debt is settled first."""
    check(amount, reason, idempotency_key, reference)
    existing = await _replayed(idempotency_key, member, EntryKind.EARN, amount)
    if existing is not None:
        return existing
    now = services.clock.now()
    expiry = whole_second(expires_at) if expires_at else expiry_for(services.config, now)
    async with member_lock(member) as account:
        await open_account(services, account)
        entry, _ = await credit(
            account,
            now,
            EntryKind.EARN,
            [(expiry, amount)],
            reason=reason,
            key=idempotency_key,
            reference=reference,
        )
    return entry


async def _replayed(key: str, member: MemberRef, kind: EntryKind, gross: int) -> PointsEntry | None:
    """The entry an earlier call wrote under this key, looked up before taking the lock.

    Under the caller's lock there is no look-up: the entry's insert finds a taken key itself
    and answers with that entry, so a first write costs one statement fewer.
    """
    if isinstance(member, LockedMember):
        return None
    return await prior_entry(key, member, kind, gross)


async def spend(
    services: Services,
    member: MemberRef,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
) -> PointsEntry:
    """Spend points from the earliest-expiring lots; 409 `insufficient_points` if short."""
    check(amount, reason, idempotency_key, reference)
    existing = await _replayed(idempotency_key, member, EntryKind.SPEND, -amount)
    if existing is not None:
        return existing
    async with member_lock(member) as account:
        await open_account(services, account)
        entry, _ = await debit(
            account,
            services.clock.now(),
            EntryKind.SPEND,
            amount,
            reason=reason,
            key=idempotency_key,
            reference=reference,
        )
    return entry


async def refund_spend(
    services: Services,
    spend_idempotency_key: str,
    *,
    idempotency_key: str,
    reason: str,
    account: LockedMember | None = None,
) -> PointsEntry:
    """Give a whole spend back; each part keeps its lot's expiry if still in the future.

    With `account`, the spend must be that locked member's and the refund joins the transaction.
    """
    check(1, reason, idempotency_key)
    spent = await (
        PointsEntry.filter(idempotency_key=spend_idempotency_key, kind=EntryKind.SPEND)
        .using_db(account.conn if account is not None else None)
        .first()
    )
    if spent is None or (account is not None and spent.member_id != account.id):
        raise NotFound("No such points spend.", code="spend_not_found")
    existing = await prior_entry(idempotency_key, spent.member_id, EntryKind.REFUND, None, account)
    if existing is not None:
        if existing.refund_of_id != spent.id:
            raise key_reused()
        return existing
    now = services.clock.now()
    # Giving back is bookkeeping: it also applies to an account deleted since (kept anonymous).
    async with member_lock(account or spent.member_id, include_deleted=True) as locked:
        await open_account(services, locked)
        conn = locked.conn
        given_back = await PointsEntry.filter(refund_of_id=spent.id).using_db(conn).first()
        if given_back is not None:
            if given_back.idempotency_key == idempotency_key:
                return given_back
            raise Conflict("This spend was given back already.", code="spend_already_refunded")
        parts = await (
            PointsAllocation.filter(entry_id=spent.id)
            .using_db(conn)
            .values_list("amount", "lot__expires_at")
        )
        fresh = expiry_for(services.config, now)
        portions: dict[datetime, int] = {}
        for amount, lot_expiry in parts:
            expiry = lot_expiry if lot_expiry > whole_second(now) else fresh
            portions[expiry] = portions.get(expiry, 0) + amount
        entry, _ = await credit(
            locked,
            now,
            EntryKind.REFUND,
            sorted(portions.items()),
            reason=reason,
            key=idempotency_key,
            reference=spent.reference,
            refund_of=spent,
        )
    return entry


async def take_back(
    services: Services,
    member: MemberRef,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
    from_entry: PointsEntry | None = None,
) -> PointsEntry:
    """Take earned points back (a refunded purchase): `from_entry`'s lots first, then FIFO.

    What the balance cannot cover becomes debt, or is refused with 409 `insufficient_points`,
    per `config.points.refund_shortfall`.
    """
    check(amount, reason, idempotency_key, reference)
    existing = await _replayed(idempotency_key, member, EntryKind.REFUND, -amount)
    if existing is not None:
        return existing
    async with member_lock(member, include_deleted=True) as account:
        await open_account(services, account)
        entry, _ = await debit(
            account,
            services.clock.now(),
            EntryKind.REFUND,
            amount,
            reason=reason,
            key=idempotency_key,
            reference=reference,
            allow_debt=services.config.points.refund_shortfall == "debt",
            first_from_entry_id=from_entry.id if from_entry is not None else None,
        )
    return entry


def _account(member: Member) -> dict[str, int]:
    return {"points_balance": member.points_balance, "points_debt": member.points_debt}


def adjustment_key(header: str | None) -> str:
    """The idempotency key of an operator's adjustment: the client's key (the rule is
    `STAFF_IDEMPOTENCY_KEY`), or a fresh key without one (every call adjusts)."""
    key = STAFF_IDEMPOTENCY_KEY.read(header)
    return f"adjust:{key}" if key is not None else f"adjust:{uuid.uuid4().hex}"


async def adjust(
    services: Services,
    actor: Operator,
    member_id: int,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
) -> PointsEntry:
    """An operator's correction, positive or negative (never below zero), audited."""
    check(amount, reason, idempotency_key, signed=True)
    existing = await prior_entry(idempotency_key, member_id, EntryKind.ADJUST, amount)
    if existing is not None:
        return existing
    now = services.clock.now()
    async with member_lock(member_id) as account:
        member = await open_account(services, account)
        before = _account(member)
        if amount > 0:
            entry, created = await credit(
                account,
                now,
                EntryKind.ADJUST,
                [(expiry_for(services.config, now), amount)],
                reason=reason,
                key=idempotency_key,
                reference=None,
                operator=actor,
            )
        else:
            entry, created = await debit(
                account,
                now,
                EntryKind.ADJUST,
                -amount,
                reason=reason,
                key=idempotency_key,
                reference=None,
                operator=actor,
            )
        if created:
            await audit.record(
                actor,
                "points.adjust",
                "member",
                member.id,
                before=before,
                after=_account(member) | {"amount": amount, "reason": reason, "entry": entry.id},
                using_db=account.conn,
            )
    return entry


async def expire_member(services: Services, member_id: int) -> int:
    """Expire one member's lots that are past their date; the number of lots expired."""
    now = services.clock.now()
    if not await _has_due_lots(member_id, now):
        return 0
    async with in_transaction() as conn:
        account = await lock_member(conn, member_id, include_deleted=True)
        return await expire_member_lots(conn, account.row, now)


async def _has_due_lots(member_id: int, now: datetime) -> bool:
    return await PointsLot.filter(
        member_id=member_id, remaining__gt=0, expires_at__lt=whole_second(now)
    ).exists()
