"""The points ledger's invariants, checked from the database for one member."""

from __future__ import annotations

from tortoise.functions import Sum
from tortoise.models import Model

from wxmember.core.models import Member
from wxmember.core.models.points import PointsAllocation, PointsEntry, PointsLot


async def _total(model: type[Model], column: str, **filters: object) -> int:
    row = await model.filter(**filters).annotate(total=Sum(column)).first().values("total")
    return int(row["total"] or 0) if row else 0


async def assert_ledger_consistent(member_id: int) -> Member:
    """The member's points add up; the member, reloaded.

    - balance == sum(ledger amounts) == sum(lots remaining), never negative;
    - debt == sum(debt changes), never negative, and never at the same time as a balance;
    - the newest entry carries the balance and debt the member has now;
    - every lot has given out exactly what its allocations took, no more than it held.
    """
    member = await Member.get(id=member_id)
    assert member.points_balance >= 0
    assert member.points_debt >= 0
    assert not (member.points_balance and member.points_debt)
    assert member.points_balance == await _total(PointsEntry, "amount", member_id=member_id)
    assert member.points_balance == await _total(PointsLot, "remaining", member_id=member_id)
    assert member.points_debt == await _total(PointsEntry, "debt_change", member_id=member_id)
    last = await PointsEntry.filter(member_id=member_id).order_by("-id").first()
    if last is not None:
        assert (last.balance_after, last.debt_after) == (
            member.points_balance,
            member.points_debt,
        )
    taken: dict[int, int] = {}
    for lot_id, amount in await PointsAllocation.filter(lot__member_id=member_id).values_list(
        "lot_id", "amount"
    ):
        assert amount > 0
        taken[lot_id] = taken.get(lot_id, 0) + amount
    for lot in await PointsLot.filter(member_id=member_id):
        assert 0 <= lot.remaining <= lot.amount
        assert lot.amount - lot.remaining == taken.get(lot.id, 0)
    return member
