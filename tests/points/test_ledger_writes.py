"""A ledger change writes all of its rows or none of them.

A credit writes its entry, the balance and the lots; growth its entry, the member's total and
the month's bucket. On PostgreSQL each is one statement, on SQLite several: on both, a key
already taken writes nothing, and a balance or a lot that changed under the member's lock stops
the change before anything of it is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from handlers import points
from handlers.points import lots
from handlers.points.lots import LedgerBroken
from handlers.tiers.growth import add_growth
from tests.factories import create_member
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze
from tests.support.settings import requires_postgres
from wxmember.core.context import Services
from wxmember.core.kernel import lock_member
from wxmember.core.models import Member
from wxmember.core.models.growth import GrowthEntry, MemberPeriodGrowth
from wxmember.core.models.points import PointsEntry, PointsLot


async def _points(member_id: int) -> tuple[int, int, int, int]:
    """Balance, debt, entries and lots of a member, as stored."""
    member = await Member.get(id=member_id)
    return (
        member.points_balance,
        member.points_debt,
        await PointsEntry.filter(member_id=member_id).count(),
        await PointsLot.filter(member_id=member_id).count(),
    )


class TestCredit:
    async def test_a_taken_key_under_the_callers_lock_writes_nothing(
        self, services: Services
    ) -> None:
        member = await create_member()
        first = await points.earn(services, member.id, 50, reason="gift", idempotency_key="g")
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            again = await points.earn(services, account, 50, reason="gift", idempotency_key="g")
            assert (again.id, account.row.points_balance) == (first.id, 50)
        assert await _points(member.id) == (50, 0, 1, 1)
        await assert_ledger_consistent(member.id)

    async def test_a_debt_changed_under_the_lock_keeps_nothing_of_the_credit(
        self, services: Services
    ) -> None:
        member = await create_member()
        await points.earn(services, member.id, 20, reason="gift", idempotency_key="g")
        with pytest.raises(LedgerBroken):
            async with in_transaction() as conn:
                account = await lock_member(conn, member.id)
                account.row.points_debt = 30  # not what the row holds: its update matches nothing
                await points.earn(services, account, 50, reason="gift", idempotency_key="h")
        assert await _points(member.id) == (20, 0, 1, 1)
        assert not await PointsEntry.exists(idempotency_key="h")
        await assert_ledger_consistent(member.id)

    async def test_a_credit_in_parts_writes_a_lot_for_each(self, services: Services) -> None:
        """A spend given back keeps each part's expiry: one lot per part, the debt settled from
        the part that expires first."""
        services.config = services.config.replace(points={"refund_shortfall": "debt"})
        freeze(services, datetime(2025, 3, 1, 4, 0, tzinfo=UTC))
        early = datetime(2025, 6, 30, 15, 59, 59, tzinfo=UTC)
        member = await create_member()
        await points.earn(
            services, member.id, 30, reason="gift", idempotency_key="early", expires_at=early
        )
        await points.earn(services, member.id, 70, reason="gift", idempotency_key="late")
        await points.spend(services, member.id, 100, reason="mall", idempotency_key="s")
        await points.take_back(services, member.id, 10, reason="refund", idempotency_key="t")
        entry = await points.refund_spend(services, "s", idempotency_key="r", reason="refund")
        assert (entry.amount, entry.debt_change) == (90, -10)
        lots = await PointsLot.filter(entry_id=entry.id).order_by("expires_at")
        assert [(lot.amount, lot.remaining) for lot in lots] == [(20, 20), (70, 70)]
        assert lots[0].expires_at == early
        assert await _points(member.id) == (90, 0, 5, 2 + 2)  # two lots earned, two given back
        await assert_ledger_consistent(member.id)


class TestDebit:
    async def test_a_taken_key_under_the_callers_lock_writes_nothing(
        self, services: Services
    ) -> None:
        member = await create_member()
        await points.earn(services, member.id, 50, reason="gift", idempotency_key="g")
        first = await points.spend(services, member.id, 20, reason="mall", idempotency_key="s")
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            again = await points.spend(services, account, 20, reason="mall", idempotency_key="s")
            assert (again.id, account.row.points_balance) == (first.id, 30)
        assert await _points(member.id) == (30, 0, 2, 1)
        lot = await PointsLot.get(member_id=member.id)
        assert lot.remaining == 30
        await assert_ledger_consistent(member.id)

    async def test_a_balance_changed_under_the_lock_keeps_nothing_of_the_spend(
        self, services: Services
    ) -> None:
        member = await create_member()
        await points.earn(services, member.id, 50, reason="gift", idempotency_key="g")
        with pytest.raises(LedgerBroken):
            async with in_transaction() as conn:
                account = await lock_member(conn, member.id)
                account.row.points_balance = 80  # not what the row holds
                await points.spend(services, account, 70, reason="mall", idempotency_key="s")
        assert await _points(member.id) == (50, 0, 1, 1)
        assert not await PointsEntry.exists(idempotency_key="s")
        await assert_ledger_consistent(member.id)

    async def test_a_spend_across_lots_empties_all_but_the_last(self, services: Services) -> None:
        member = await create_member()
        for n, amount in enumerate((10, 20, 30)):
            await points.earn(services, member.id, amount, reason="gift", idempotency_key=f"{n}")
        await points.spend(services, member.id, 35, reason="mall", idempotency_key="s")
        lots = await PointsLot.filter(member_id=member.id).order_by("id")
        assert [lot.remaining for lot in lots] == [0, 0, 25]
        await assert_ledger_consistent(member.id)

    @pytest.mark.parametrize(
        ("spent", "left_behind"),
        [(50, 0), (20, 10)],
        ids=["a-lot-to-empty-was-empty", "a-lot-to-take-from-held-too-little"],
    )
    async def test_a_lot_changed_after_it_was_read_keeps_nothing_of_the_spend(
        self, services: Services, monkeypatch: pytest.MonkeyPatch, spent: int, left_behind: int
    ) -> None:
        """The lots are read, then taken from; a lot that no longer holds what was read (only a
        writer ignoring the member's lock could do that) stops the spend, in one statement on
        PostgreSQL and step by step on SQLite."""
        member = await create_member()
        await points.earn(services, member.id, 50, reason="gift", idempotency_key="g")
        read = lots._open_lots

        async def read_then_changed(
            conn: BaseDBAsyncClient, member_id: int, entry_id: int | None
        ) -> list[PointsLot]:
            found = await read(conn, member_id, entry_id)
            await PointsLot.filter(member_id=member_id).using_db(conn).update(remaining=left_behind)
            return found

        monkeypatch.setattr(lots, "_open_lots", read_then_changed)
        with pytest.raises(LedgerBroken, match="changed under a lock"):
            await points.spend(services, member.id, spent, reason="mall", idempotency_key="s")
        assert await _points(member.id) == (50, 0, 1, 1)
        assert (await PointsLot.get(member_id=member.id)).remaining == 50
        assert not await PointsEntry.exists(idempotency_key="s")
        await assert_ledger_consistent(member.id)

    @requires_postgres
    async def test_taking_lots_is_planned_once_per_connection(self, services: Services) -> None:
        """Spends that empty no lot and spends that empty some share one plan of the lots'
        statement (`_TAKE_AT_ONCE`), instead of PostgreSQL planning each one anew."""
        member = await create_member()
        for n in range(4):
            await points.earn(services, member.id, 10, reason="gift", idempotency_key=f"{n}")
        # a table the size of a shop's, as the planner knows it: with a handful of rows every
        # plan costs the same, and the choice this is about is never made
        others = await create_member()
        entry = await points.earn(services, others.id, 1, reason="gift", idempotency_key="x")
        await Member._meta.db.execute_script(
            'INSERT INTO "points_lots" ("amount", "remaining", "expires_at", "created_at", '
            '"entry_id", "member_id") SELECT 1, 1, now() + interval \'1 year\', now(), '
            f"{entry.id}, {others.id} FROM generate_series(1, 20000); "
            'ANALYZE "points_lots"'
        )
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            for n, amount in enumerate((1, 1, 1, 9, 1, 1, 10, 1)):
                key = f"s{n}"
                await points.spend(services, account, amount, reason="mall", idempotency_key=key)
            _, plans = await conn.execute_query(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%WITH emptied AS%' "
                "AND statement NOT LIKE '%pg_prepared_statements%'"
            )

        assert [(row[0] > 0, row[1] <= 5) for row in plans] == [(True, True)]
        lots = await PointsLot.filter(member_id=member.id).order_by("id")
        assert [lot.remaining for lot in lots] == [0, 0, 5, 10]
        await assert_ledger_consistent(member.id)


class TestGrowth:
    async def test_a_taken_key_under_the_callers_lock_writes_nothing(
        self, services: Services
    ) -> None:
        member = await create_member()
        await add_growth(services, member.id, 300, reason="purchase", idempotency_key="k")
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            again = await add_growth(services, account, 300, reason="purchase", idempotency_key="k")
            assert again.replayed and (again.growth_total, again.period_growth) == (300, 300)
        assert (await Member.get(id=member.id)).growth_total == 300
        assert await GrowthEntry.filter(member_id=member.id).count() == 1
        totals = await MemberPeriodGrowth.filter(member_id=member.id).values_list(
            "total", flat=True
        )
        assert totals == [300]

    async def test_the_period_counts_a_month_once_with_its_new_growth(
        self, services: Services
    ) -> None:
        freeze(services, datetime(2025, 6, 15, 4, 0, tzinfo=UTC))
        member = await create_member()
        await add_growth(services, member.id, 300, reason="purchase", idempotency_key="a")
        second = await add_growth(services, member.id, 400, reason="purchase", idempotency_key="b")
        third = await add_growth(services, member.id, -100, reason="refund", idempotency_key="c")
        assert (second.period_growth, third.period_growth) == (700, 600)
        assert (third.growth_total, (await Member.get(id=member.id)).growth_total) == (600, 600)
