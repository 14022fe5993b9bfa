"""Helpers of the points, check-in and POS tests: clocks, error codes, the ledger invariants."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse
from tortoise.functions import Sum

from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.checkins import CheckinRule
from wxmember.core.models.points import PointsAllocation, PointsEntry, PointsLot

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts: int) -> datetime:
    """A Shanghai wall-clock time: local(2025, 3, 1, 9, 30)."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def freeze(services: Services, at: datetime) -> FrozenClock:
    clock = FrozenClock(at)
    services.clock = clock
    return clock


async def error_code(response: ClientResponse) -> str:
    return (await response.json())["error"]["code"]


async def _total(model: type, column: str, **filters: object) -> int:
    row = await model.filter(**filters).annotate(total=Sum(column)).first().values("total")
    return int(row["total"] or 0) if row else 0


async def assert_ledger_consistent(member_id: int) -> Member:
    """balance == sum(ledger) == sum(lots remaining); debt == sum(debt changes); lots add up."""
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


async def set_checkin_rules(**changes: object) -> CheckinRule:
    """Rules in force since long ago: the defaults with some fields changed."""
    from handlers.checkin.rules import DEFAULT_RULES

    values = DEFAULT_RULES.model_dump(mode="json") | changes
    return await CheckinRule.create(effective_from=date(2000, 1, 1), **values)
