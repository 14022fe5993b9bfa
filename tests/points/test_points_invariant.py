"""A random sequence of 500 ledger operations against one database, checked against a model.

Every entry written must carry the model's balance and debt; a replayed key must return the
first entry unchanged; at the end every lot must hold what the model says (which checks
earliest-expiry-first and expiry), and balance == sum(ledger) == sum(lots remaining).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from handlers import points
from handlers.points.lots import expiry_for
from tests.factories import create_member
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import Conflict
from wxmember.core.localtime import whole_second
from wxmember.core.models.points import PointsEntry, PointsLot

OPERATIONS = 500

Op = tuple[str, Any, Any]

operation = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 300), st.none() | st.integers(1, 400)),
    st.tuples(st.just("spend"), st.integers(1, 400), st.none()),
    st.tuples(st.just("refund"), st.integers(0, 10_000), st.none()),
    st.tuples(st.just("take_back"), st.integers(1, 250), st.none()),
    st.tuples(st.just("advance"), st.integers(1, 2_000), st.none()),
    st.tuples(st.just("replay"), st.integers(0, 10_000), st.none()),
    st.tuples(st.just("expire_job"), st.none(), st.none()),
)


@dataclass
class Lot:
    seq: int
    expires_at: datetime
    remaining: int


@dataclass
class Model:
    """The ledger's rules in plain Python: lots in expiry order, debt settled first."""

    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    spends: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)
    seq: itertools.count = field(default_factory=itertools.count)

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    def expire(self, now: datetime) -> None:
        for lot in self.lots:
            if lot.expires_at < whole_second(now):
                lot.remaining = 0

    def credit(self, portions: list[tuple[datetime, int]]) -> None:
        for expires_at, amount in sorted(portions):
            settle = min(self.debt, amount)
            self.debt -= settle
            if amount - settle:
                self.lots.append(Lot(next(self.seq), expires_at, amount - settle))

    def take(self, amount: int) -> list[tuple[datetime, int]]:
        taken = []
        for lot in sorted(self.lots, key=lambda lot: (lot.expires_at, lot.seq)):
            used = min(lot.remaining, amount)
            if used:
                lot.remaining -= used
                amount -= used
                taken.append((lot.expires_at, used))
        return taken


@dataclass
class Run:
    services: Services
    member_id: int
    clock: FrozenClock
    model: Model = field(default_factory=Model)
    done: list[tuple[Op, str, PointsEntry]] = field(default_factory=list)

    async def call(self, op: Op, key: str) -> PointsEntry:
        kind, value, extra = op
        services, member_id = self.services, self.member_id
        if kind == "earn":
            return await points.earn(
                services, member_id, value, reason="r", idempotency_key=key, expires_at=extra
            )
        if kind == "spend":
            return await points.spend(services, member_id, value, reason="r", idempotency_key=key)
        if kind == "refund":
            return await points.refund_spend(services, extra, idempotency_key=key, reason="r")
        return await points.take_back(services, member_id, value, reason="r", idempotency_key=key)

    async def refused(self, op: Op, key: str, code: str) -> None:
        try:
            await self.call(op, key)
        except Conflict as exc:
            assert exc.code == code, (op, exc.code)
        else:
            raise AssertionError(f"{op} should have been refused")

    async def step(self, n: int, op: Op) -> PointsEntry | None:
        """Run one operation on both sides; the entry to compare with the model, if any."""
        kind, value, extra = op
        clock = self.clock
        now = clock.now()
        model = self.model
        if kind == "advance":
            clock.advance(hours=value)
            return None
        if kind == "expire_job":
            await points.expire_due_lots(self.services)
            model.expire(now)
            return None
        if kind == "replay":
            if self.done:
                first_op, key, first = self.done[value % len(self.done)]
                again = await self.call(first_op, key)
                assert (again.id, again.amount, again.balance_after) == (
                    first.id,
                    first.amount,
                    first.balance_after,
                )
            return None
        key = f"{self.member_id}:{kind}-{n}"
        model.expire(now)
        if kind == "earn":
            expires_at = (
                expiry_for(self.services.config, now)
                if extra is None
                else whole_second(now + timedelta(days=extra))
            )
            op = (kind, value, expires_at)
            model.credit([(expires_at, value)])
        elif kind == "spend":
            if value > model.balance:
                await self.refused(op, key, "insufficient_points")
                return None
            model.spends[key] = model.take(value)
        elif kind == "refund":
            if not model.spends:
                return None
            spend_key = sorted(model.spends)[value % len(model.spends)]
            op = (kind, 0, spend_key)
            if spend_key in model.refunded:
                await self.refused(op, key, "spend_already_refunded")
                return None
            model.refunded.add(spend_key)
            fresh = expiry_for(self.services.config, now)
            portions: dict[datetime, int] = {}
            for expires_at, amount in model.spends[spend_key]:
                expiry = expires_at if expires_at > whole_second(now) else fresh
                portions[expiry] = portions.get(expiry, 0) + amount
            model.credit(list(portions.items()))
        else:
            taken = min(model.balance, value)
            model.take(taken)
            model.debt += value - taken
        entry = await self.call(op, key)
        self.done.append((op, key, entry))
        return entry


class TestLedgerInvariant:
    @settings(
        max_examples=1,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=st.lists(operation, min_size=OPERATIONS, max_size=OPERATIONS))
    async def test_random_operations_keep_the_invariant(
        self, services: Services, ops: list[Op]
    ) -> None:
        clock = freeze(services, local(2024, 12, 20, 9, 0))
        member = await create_member()
        run = Run(services, member.id, clock)
        for n, op in enumerate(ops):
            entry = await run.step(n, op)
            if entry is not None:
                assert (entry.balance_after, entry.debt_after) == (
                    run.model.balance,
                    run.model.debt,
                ), (n, op)
        assert len(run.done) > OPERATIONS // 3
        await points.expire_member(services, member.id)
        run.model.expire(services.clock.now())
        account = await assert_ledger_consistent(member.id)
        assert (account.points_balance, account.points_debt) == (
            run.model.balance,
            run.model.debt,
        )
        lots = await PointsLot.filter(member_id=member.id).order_by("id")
        assert [(lot.expires_at, lot.remaining) for lot in lots] == [
            (lot.expires_at, lot.remaining) for lot in run.model.lots
        ]
