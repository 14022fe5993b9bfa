"""The expiry job (`expire_due_lots`): due lots expired in batches of members, set-based.

It must write what expiring member by member writes (`expire_member`, the path a spend or an
earn takes before its first change): the same entries, allocations, lots and balances. So each
test builds one seeded random history twice, for two groups of members side by side, expires
one group member by member and the other with the job, and compares the two groups row by row.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

import handlers.points.expiry
from handlers import points
from tests.factories import create_member
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.context import Services
from wxmember.core.errors import InsufficientPoints
from wxmember.core.kernel import lock_member
from wxmember.core.localtime import whole_second
from wxmember.core.models import Member
from wxmember.core.models.points import (
    NEVER_EXPIRES,
    EntryKind,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)

START = local(2025, 1, 1, 9, 0)
RUN_AT = local(2025, 9, 1, 3, 0)
MEMBERS = 12


class _Group:
    """One copy of the history: its members and the keys of its spends."""

    def __init__(self, name: str, members: list[int]) -> None:
        self.name, self.members = name, members
        self.spends: list[str] = []

    def key(self, step: int) -> str:
        return f"{self.name}:{step}"


def _expiry(rng: random.Random) -> datetime | None:
    """Several expiry dates: long past, the day before the run, its very second, later, never."""
    return rng.choice(
        [
            local(2025, 3, 31, 23, 59, 59),
            local(2025, 6, 30, 23, 59, 59),
            local(2025, 8, 31, 23, 59, 59),
            RUN_AT - timedelta(seconds=1),
            RUN_AT,
            local(2025, 12, 31, 23, 59, 59),
            NEVER_EXPIRES,
            None,  # by policy: rolling 12 months, after the run
        ]
    )


async def _step(services: Services, rng: random.Random, step: int, group: _Group) -> None:
    """One random operation for one group; `rng` is a copy, so both groups draw the same."""
    index = rng.randrange(MEMBERS - 3)  # the last three members get their own histories
    member_id = group.members[index]
    kind = rng.choices(["earn", "spend", "take_back", "refund"], weights=[5, 3, 1, 1])[0]
    amount = rng.randrange(1, 300)
    key = group.key(step)
    if kind == "earn":
        expires_at = _expiry(rng)
        await points.earn(
            services,
            member_id,
            amount,
            reason="purchase",
            idempotency_key=key,
            expires_at=expires_at,
        )
    elif kind == "spend":
        try:
            await points.spend(services, member_id, amount, reason="mall", idempotency_key=key)
        except InsufficientPoints:
            return
        group.spends.append(key)
    elif kind == "take_back":
        await points.take_back(services, member_id, amount, reason="refund", idempotency_key=key)
    elif group.spends:
        spent = group.spends.pop(rng.randrange(len(group.spends)))
        await points.refund_spend(services, spent, idempotency_key=key, reason="cancelled")


async def _histories(services: Services, seed: int) -> tuple[_Group, _Group]:
    """The same random history twice over, in groups "a" and "b".

    Members earn with several expiry dates, spend, have purchases taken back (into debt) and
    spends given back, over four months; expiring member by member happens along the way as
    every change does it. The last three members of each group: one has points that are not
    due yet, one has points due at the run's very second, one has no points at all.
    """
    clock = freeze(services, START)
    groups = []
    for name in ("a", "b"):
        groups.append(_Group(name, [(await create_member()).id for _ in range(MEMBERS)]))
    rng = random.Random(seed)
    for step in range(160):
        state = rng.getstate()
        for group in groups:
            rng.setstate(state)
            await _step(services, rng, step, group)
        clock.advance(hours=rng.randrange(1, 36))
    for group in groups:
        for step, member_id, expires_at in (
            (-3, group.members[-3], RUN_AT + timedelta(seconds=1)),
            (-2, group.members[-2], RUN_AT),
        ):
            await points.earn(
                services,
                member_id,
                40,
                reason="purchase",
                idempotency_key=group.key(step),
                expires_at=expires_at,
            )
    clock.set(RUN_AT + timedelta(seconds=1))
    return groups[0], groups[1]


async def _expire_one_by_one(services: Services, group: _Group) -> int:
    return sum([await points.expire_member(services, member) for member in group.members])


async def _picture(group: _Group) -> dict[str, Any]:
    """A group's rows with ids replaced by positions, so two groups can be compared."""
    place = {member: n for n, member in enumerate(group.members)}
    lots = await PointsLot.filter(member_id__in=group.members).order_by("id")
    lot_place = {lot.id: n for n, lot in enumerate(lots)}
    entries = await PointsEntry.filter(member_id__in=group.members).order_by("id")

    def key(entry: PointsEntry) -> str:
        if entry.kind == EntryKind.EXPIRE:
            _, member, lot = entry.idempotency_key.split(":")
            return f"expire:{place[int(member)]}:{lot_place[int(lot)]}"
        return entry.idempotency_key.split(":", 1)[1]

    members = await Member.filter(id__in=group.members).order_by("id")
    allocations = await PointsAllocation.filter(lot_id__in=list(lot_place)).order_by("id")
    by_id = {entry.id: entry for entry in entries}
    return {
        "members": [(m.points_balance, m.points_debt) for m in members],
        "entries": sorted(
            (
                place[e.member_id],
                e.kind,
                e.amount,
                e.balance_after,
                e.debt_change,
                e.debt_after,
                e.reason,
                e.reference,
                key(e),
                e.expires_at,
                e.created_at,
            )
            for e in entries
        ),
        "lots": [
            (place[lot.member_id], lot.amount, lot.remaining, lot.expires_at, lot.created_at)
            for lot in lots
        ],
        "allocations": sorted(
            (key(by_id[a.entry_id]), lot_place[a.lot_id], a.amount) for a in allocations
        ),
    }


async def _counts() -> tuple[int, int, int]:
    return (
        await PointsEntry.all().count(),
        await PointsAllocation.all().count(),
        await PointsLot.filter(remaining__gt=0).count(),
    )


class TestExpireDueLots:
    @pytest.mark.parametrize("seed", [7, 20260401])
    @pytest.mark.parametrize(("batch_size", "at_once"), [(1, 1), (3, 1), (1000, 1), (1, 4), (3, 2)])
    async def test_the_same_rows_as_expiring_member_by_member(
        self, services: Services, seed: int, batch_size: int, at_once: int
    ) -> None:
        """Also with batches side by side (PostgreSQL; SQLite runs one at a time)."""
        one_by_one, batched = await _histories(services, seed)
        expected = await _expire_one_by_one(services, one_by_one)
        assert expected > 0
        expired = await points.expire_due_lots(services, batch_size=batch_size, at_once=at_once)
        assert expired == expected
        mine, theirs = await _picture(one_by_one), await _picture(batched)
        assert mine == theirs
        assert any(e[1] == EntryKind.EXPIRE for e in theirs["entries"])
        for member in one_by_one.members + batched.members:
            await assert_ledger_consistent(member)

    async def test_one_entry_per_member_keyed_by_their_first_due_lot(
        self, services: Services
    ) -> None:
        clock = freeze(services, START)
        member = await create_member()
        later = await points.earn(
            services, member.id, 30, reason="r", idempotency_key="later", expires_at=RUN_AT
        )
        sooner = await points.earn(
            services,
            member.id,
            20,
            reason="r",
            idempotency_key="sooner",
            expires_at=local(2025, 2, 1, 0, 0),
        )
        await points.earn(services, member.id, 5, reason="r", idempotency_key="kept")
        clock.set(RUN_AT + timedelta(seconds=1))
        assert await points.expire_due_lots(services, batch_size=1) == 2
        expired = await PointsEntry.get(member_id=member.id, kind=EntryKind.EXPIRE)
        first = await PointsLot.get(entry_id=sooner.id)
        assert expired.idempotency_key == f"expire:{member.id}:{first.id}"
        assert (expired.amount, expired.balance_after, expired.debt_after) == (-50, 5, 0)
        assert expired.created_at == RUN_AT + timedelta(seconds=1)
        taken = await PointsAllocation.filter(entry_id=expired.id).order_by("id")
        second = await PointsLot.get(entry_id=later.id)
        assert [(a.lot_id, a.amount) for a in taken] == [(first.id, 20), (second.id, 30)]
        assert (await assert_ledger_consistent(member.id)).points_balance == 5

    async def test_a_deleted_members_points_expire_too(self, services: Services) -> None:
        clock = freeze(services, START)
        member = await create_member()
        await points.earn(
            services, member.id, 30, reason="r", idempotency_key="e", expires_at=RUN_AT
        )
        await Member.filter(id=member.id).update(deleted_at=START)
        clock.set(RUN_AT + timedelta(seconds=1))
        assert await points.expire_due_lots(services) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 0

    async def test_every_member_adds_up_and_a_second_run_does_nothing(
        self, services: Services
    ) -> None:
        one_by_one, batched = await _histories(services, 99)
        assert await points.expire_due_lots(services, batch_size=2) > 0
        for member in one_by_one.members + batched.members:
            await assert_ledger_consistent(member)
        before = await _counts()
        assert await points.expire_due_lots(services, batch_size=2) == 0
        assert await points.expire_due_lots(services) == 0
        assert await _counts() == before
        assert (
            await PointsLot.filter(
                remaining__gt=0, expires_at__lt=whole_second(services.clock.now())
            ).count()
            == 0
        )

    @pytest.mark.parametrize("at_once", [1, 3])
    async def test_a_run_stopped_between_batches_is_finished_by_the_next(
        self, services: Services, monkeypatch: pytest.MonkeyPatch, at_once: int
    ) -> None:
        one_by_one, batched = await _histories(services, 31)
        await _expire_one_by_one(services, one_by_one)
        real = handlers.points.expiry.expire_members_lots
        batches = 0

        async def crashing(*args: Any, **kwargs: Any) -> int:
            nonlocal batches
            batches += 1
            if batches == 3:
                await real(*args, **kwargs)  # its writes roll back with the transaction
                raise RuntimeError("the process died")
            return await real(*args, **kwargs)

        monkeypatch.setattr(handlers.points.expiry, "expire_members_lots", crashing)
        with pytest.raises(RuntimeError):
            await points.expire_due_lots(services, batch_size=2, at_once=at_once)
        assert batches >= 3
        monkeypatch.setattr(handlers.points.expiry, "expire_members_lots", real)
        assert await points.expire_due_lots(services, batch_size=2) > 0
        assert await _picture(one_by_one) == await _picture(batched)
        for member in batched.members:
            await assert_ledger_consistent(member)


async def _member_with_due_and_fresh_points(services: Services) -> int:
    """50 points due at the run, 30 that are not."""
    clock = freeze(services, START)
    member = await create_member()
    await points.earn(services, member.id, 50, reason="r", idempotency_key="old", expires_at=RUN_AT)
    await points.earn(services, member.id, 30, reason="r", idempotency_key="fresh")
    clock.set(RUN_AT + timedelta(seconds=1))
    return member.id


async def _assert_spent_after_expiry(member_id: int) -> None:
    member = await assert_ledger_consistent(member_id)
    assert member.points_balance == 10
    entries = await PointsEntry.filter(member_id=member_id).order_by("id")
    assert [(e.kind, e.amount) for e in entries][-2:] == [
        (EntryKind.EXPIRE, -50),
        (EntryKind.SPEND, -20),
    ]


class TestExpiryBesideSpends:
    async def test_a_spend_holding_the_member_goes_first(self, services: Services) -> None:
        member_id = await _member_with_due_and_fresh_points(services)
        locked, release = asyncio.Event(), asyncio.Event()

        async def spend_while_holding() -> None:
            async with in_transaction() as conn:
                account = await lock_member(conn, member_id)
                locked.set()
                await release.wait()
                await points.spend(services, account, 20, reason="mall", idempotency_key="s")

        spender = asyncio.create_task(spend_while_holding())
        await locked.wait()
        job = asyncio.create_task(points.expire_due_lots(services))
        await asyncio.sleep(0.2)  # the job reaches the member's lock (or the database's)
        release.set()
        await spender
        assert await job == 0  # the spend expired the due lot itself, before spending
        await _assert_spent_after_expiry(member_id)

    @pytest.mark.parametrize(("amount", "balance"), [(20, 10), (60, None)])
    async def test_a_spend_arriving_during_a_batch_waits_for_it(
        self,
        services: Services,
        monkeypatch: pytest.MonkeyPatch,
        amount: int,
        balance: int | None,
    ) -> None:
        """20 of the 30 points left are spent after the batch; 60 would need expired points."""
        member_id = await _member_with_due_and_fresh_points(services)
        real = handlers.points.expiry.expire_members_lots
        arrived = asyncio.Event()

        async def spend() -> PointsEntry:
            await arrived.wait()
            return await points.spend(
                services, member_id, amount, reason="mall", idempotency_key="s"
            )

        # Started outside the batch: a task started inside would share its transaction.
        spender = asyncio.create_task(spend())

        async def with_a_spend_arriving(*args: Any, **kwargs: Any) -> int:
            expired = await real(*args, **kwargs)
            arrived.set()
            await asyncio.sleep(0.2)  # the spend reaches the member's lock (or the database's)
            assert not spender.done()
            return expired

        monkeypatch.setattr(handlers.points.expiry, "expire_members_lots", with_a_spend_arriving)
        assert await points.expire_due_lots(services) == 1
        if balance is None:
            with pytest.raises(InsufficientPoints):
                await spender
            assert (await assert_ledger_consistent(member_id)).points_balance == 30
        else:
            await spender
            await _assert_spent_after_expiry(member_id)
