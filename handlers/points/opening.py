"""Opening balances: the points members created in this transaction bring along, set-based.

A batch of members moved in from another system (handlers/member_import) opens each account
with one `earn` entry, as `earn` would write it (same checks, idempotency keys, expiry by the
date given or by the points policy via `expiry_for`, whole seconds), but with one multi-row
insert per table for the whole batch instead of a dozen statements per member. The members
must be new in this transaction (no entries, lots, balance or debt yet): a row inserted by a
transaction is invisible to every other one until it commits, so it is as locked as
`lock_member` would make it, and there are no due lots to expire and no debt to settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.points.entries import check, key_reused
from handlers.points.lots import LedgerBroken, expiry_for
from wxmember.core.context import Services
from wxmember.core.localtime import whole_second
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot
from wxmember.core.prepared import InsertRows, ids_in, placeholders

_INSERT_ENTRIES = InsertRows(PointsEntry, skip_taken=True)
_INSERT_LOTS = InsertRows(PointsLot)
# The balance of a new account is what its ledger holds: only accounts still at zero move.
_OPEN = """
UPDATE "members" SET "points_balance" = (
    SELECT COALESCE(SUM("amount"), 0) FROM "points_entries"
    WHERE "points_entries"."member_id" = "members"."id"
)
WHERE "id" {ids} AND "points_balance" = 0 AND "points_debt" = 0
"""


@dataclass(frozen=True)
class OpeningBalance:
    """The points one new member brings: an `earn` of `amount` under `idempotency_key`,
    expiring at `expires_at` (end of a local day, say) or by the points policy when None."""

    member_id: int
    amount: int
    idempotency_key: str
    expires_at: datetime | None = None


async def open_balances(
    services: Services,
    conn: BaseDBAsyncClient,
    balances: Sequence[OpeningBalance],
    *,
    reason: str,
    reference: str | None = None,
) -> None:
    """Credit each new member's opening points as one `earn` entry and one lot, in `conn`'s
    transaction. A key already written for another member is a 409 `idempotency_key_reused`,
    as `earn` answers; the same member twice in `balances` is a caller's mistake."""
    if not balances:
        return
    for balance in balances:
        check(balance.amount, reason, balance.idempotency_key, reference)
    if len({balance.member_id for balance in balances}) != len(balances):
        raise ValueError("one opening balance per member")
    now = services.clock.now()
    policy_expiry = expiry_for(services.config, now)
    expiries = {
        balance.idempotency_key: (
            whole_second(balance.expires_at) if balance.expires_at else policy_expiry
        )
        for balance in balances
    }
    await _INSERT_ENTRIES.insert(
        conn,
        [
            {
                "member_id": balance.member_id,
                "kind": EntryKind.EARN,
                "amount": balance.amount,
                "balance_after": balance.amount,
                "debt_change": 0,
                "debt_after": 0,
                "reason": reason,
                "reference": reference,
                "idempotency_key": balance.idempotency_key,
                "expires_at": expiries[balance.idempotency_key],
                "created_at": now,
            }
            for balance in balances
        ],
    )
    written = await (
        PointsEntry.filter(idempotency_key__in=list(expiries))
        .using_db(conn)
        .values_list("idempotency_key", "id", "member_id")
    )
    # A new member has no entry but the one just written: any other owner means the key was
    # taken before, by a different change.
    entries = {key: (entry_id, member_id) for key, entry_id, member_id in written}
    for balance in balances:
        found = entries.get(balance.idempotency_key)
        if found is None or found[1] != balance.member_id:
            raise key_reused()
    await _INSERT_LOTS.insert(
        conn,
        [
            {
                "member_id": balance.member_id,
                "entry_id": entries[balance.idempotency_key][0],
                "amount": balance.amount,
                "remaining": balance.amount,
                "expires_at": expiries[balance.idempotency_key],
                "created_at": now,
            }
            for balance in balances
        ],
    )
    ids, parameter = ids_in(conn, [balance.member_id for balance in balances])
    changed, _ = await conn.execute_query(placeholders(conn, _OPEN.format(ids=ids)), [parameter])
    if changed != len(balances):
        raise LedgerBroken("opening balances for accounts that were not new")
