"""Monthly partitions (PostgreSQL): migration 0015 keeps every row; an idempotency key, and a
refund's spend, hold across months and against concurrent twins; months are made ahead (taking
their rows out of the default partition) and a past month is detached with its rows;
`wxmember partitions` (which on SQLite says there are none)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate
from tortoise.transactions import in_transaction

from handlers import points
from handlers.tiers.growth import add_growth
from tests.factories import create_member
from tests.support.databases import recreate_pg_database
from tests.support.localtime import freeze
from tests.support.processes import command_config, run_command
from tests.support.settings import PG_URL, base_settings, requires_postgres
from wxmember.core.config import Config, build_config
from wxmember.core.context import Services
from wxmember.core.db import apply_migrations, open_database, tortoise_config
from wxmember.core.errors import Conflict, IdempotencyKeyReused, NotFound, ValidationFailed
from wxmember.core.kernel import insert_once
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin
from wxmember.core.models.growth import GrowthEntry
from wxmember.core.models.points import EntryKind, PointsAllocation, PointsEntry, PointsLot
from wxmember.core.partitioning import (
    MONTHS_AHEAD,
    PARTITIONED,
    create_month,
    detach_month,
    ensure_months,
    month_start,
    next_month,
    partitions,
)

BEFORE = "models.0014_points_expiry"


async def _migrate_to(config: Config, target: str) -> None:
    try:
        await migrate(config=tortoise_config(config), target=target)
    finally:
        await Tortoise.close_connections()


async def _rows(sql: str, *values: Any) -> list[tuple[Any, ...]]:
    _, rows = await Tortoise.get_connection("default").execute_query(sql, list(values))
    return [tuple(row.values()) for row in rows]


async def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    tables = [*PARTITIONED, "points_lots", "points_allocations"]
    return {table: await _rows(f'SELECT * FROM "{table}" ORDER BY id') for table in tables}


async def _where(table: str, column: str, value: object) -> list[str]:
    """The partitions holding the rows of `table` whose `column` is `value`."""
    rows = await _rows(
        f'SELECT tableoid::regclass::text FROM "{table}" WHERE "{column}" = $1', value
    )
    return [row[0] for row in rows]


async def _history_before_partitions(moments: list[datetime]) -> Member:
    """A member's points, growth and check-ins in three months, written at migration 0014: an
    earning with its lot, a spend from it, the spend given back, growth, a check-in a day."""
    member = await Member.create(openid="o-1")
    earned, spent, refunded = moments
    earn = await PointsEntry.create(
        member_id=member.id,
        kind=EntryKind.EARN,
        amount=100,
        balance_after=100,
        reason="purchase",
        idempotency_key="pos:1",
        expires_at=datetime(2027, 12, 31, tzinfo=UTC),
        created_at=earned,
    )
    lot = await PointsLot.create(
        member_id=member.id,
        entry_id=earn.id,
        amount=100,
        remaining=100,
        expires_at=datetime(2027, 12, 31, tzinfo=UTC),
        created_at=earned,
    )
    spend = await PointsEntry.create(
        member_id=member.id,
        kind=EntryKind.SPEND,
        amount=-40,
        balance_after=60,
        reason="mall",
        idempotency_key="mall:1",
        created_at=spent,
    )
    await PointsAllocation.create(entry_id=spend.id, lot_id=lot.id, amount=40)
    await PointsEntry.create(
        member_id=member.id,
        kind=EntryKind.REFUND,
        amount=40,
        balance_after=100,
        reason="mall_cancel",
        idempotency_key="mall-cancel:1",
        refund_of_id=spend.id,
        created_at=refunded,
    )
    for n, at in enumerate(moments):
        await GrowthEntry.create(
            member_id=member.id,
            amount=10 * (n + 1),
            reason="purchase",
            idempotency_key=f"pos:{n}",
            period=f"{at:%Y-%m}",
            created_at=at,
        )
        await Checkin.create(member_id=member.id, day=at.date(), streak=1, created_at=at)
    return member


@requires_postgres
class TestMigration:
    async def test_every_row_stays_in_its_month_and_the_keys_stay_unique(self) -> None:
        url = PG_URL.split("?")[0] + "_partitions"
        await recreate_pg_database(url)
        config = build_config(base_settings(url, "http://x"))
        await _migrate_to(config, BEFORE)
        moments = [
            datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 15, 8, 30, tzinfo=UTC),
        ]
        async with open_database(config):
            member = await _history_before_partitions(moments)
            before = await _snapshot()

        await apply_migrations(config)
        async with open_database(config):
            assert await _snapshot() == before
            conn = Tortoise.get_connection("default")
            this_month = month_start(datetime.now(UTC).date())
            last = this_month
            for _ in range(MONTHS_AHEAD):
                last = next_month(last)
            months, month = [], date(2025, 12, 1)
            while month <= last:
                months.append(month)
                month = next_month(month)
            for table in PARTITIONED:
                assert [p.month for p in await partitions(conn, table)] == [*months, None]
            assert await _where("points_entries", "idempotency_key", "pos:1") == [
                "points_entries_2025_12"
            ]
            assert await _where("growth_entries", "idempotency_key", "pos:1") == [
                "growth_entries_2026_01"
            ]
            assert await _where("checkins", "day", date(2026, 3, 15)) == ["checkins_2026_03"]
            assert await _rows(
                "SELECT id, idempotency_key, refund_of_id FROM points_entry_keys ORDER BY id"
            ) == [(1, "pos:1", None), (2, "mall:1", None), (3, "mall-cancel:1", 2)]
            assert await _rows("SELECT idempotency_key FROM growth_entry_keys ORDER BY 1") == [
                ("pos:0",),
                ("pos:1",),
                ("pos:2",),
            ]
            # What pointed at the ledger points at its registry, and still refuses a stranger.
            with pytest.raises(IntegrityError):
                await PointsLot.create(
                    member_id=member.id,
                    entry_id=99,
                    amount=1,
                    remaining=1,
                    expires_at=moments[0],
                    created_at=moments[0],
                )
            # The id sequences carry on; the unique (member, day) of check-ins holds.
            later = await Checkin.create(
                member_id=member.id, day=date(2026, 3, 16), streak=2, created_at=moments[2]
            )
            assert later.id == 4
            with pytest.raises(IntegrityError):
                await Checkin.create(
                    member_id=member.id, day=date(2026, 3, 16), streak=2, created_at=moments[2]
                )
        with pytest.raises(Exception, match="not reversible"):
            await _migrate_to(config, BEFORE)


@pytest.fixture
async def months(services: Services) -> None:
    """January and February 2026 as partitions of their own (the test database's months start
    at the current one)."""
    async with in_transaction() as conn:
        for month in (date(2026, 1, 1), date(2026, 2, 1)):
            for table in ("points_entries", "growth_entries"):
                await create_month(conn, PARTITIONED[table], month)


@requires_postgres
class TestKeysAcrossMonths:
    async def test_a_retry_in_the_next_month_finds_the_first_entry(
        self, services: Services, months: None
    ) -> None:
        member = await create_member()
        clock = freeze(services, datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
        first = await add_growth(
            services, member.id, 100, reason="purchase", idempotency_key="pos:retry"
        )
        clock.set(datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC))
        again = await add_growth(
            services, member.id, 100, reason="purchase", idempotency_key="pos:retry"
        )
        assert (again.replayed, again.entry.id, again.growth_total) == (True, first.entry.id, 100)
        with pytest.raises(IdempotencyKeyReused):
            await add_growth(
                services, member.id, 50, reason="purchase", idempotency_key="pos:retry"
            )
        assert await _where("growth_entries", "idempotency_key", "pos:retry") == [
            "growth_entries_2026_01"
        ]
        assert (await Member.get(id=member.id)).growth_total == 100

    async def test_a_spend_retried_and_refunded_in_the_next_month_counts_once(
        self, services: Services, months: None
    ) -> None:
        member = await create_member()
        clock = freeze(services, datetime(2026, 1, 10, tzinfo=UTC))
        await points.earn(services, member.id, 500, reason="purchase", idempotency_key="pos:e")
        clock.set(datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
        spent = await points.spend(services, member.id, 200, reason="mall", idempotency_key="m:1")
        clock.set(datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC))
        again = await points.spend(services, member.id, 200, reason="mall", idempotency_key="m:1")
        assert again.id == spent.id
        refund = await points.refund_spend(
            services, "m:1", idempotency_key="m-cancel:1", reason="mall_cancel"
        )
        with pytest.raises(Conflict) as refused:
            await points.refund_spend(
                services, "m:1", idempotency_key="m-cancel:2", reason="mall_cancel"
            )
        assert refused.value.code == "spend_already_refunded"
        # Below the application's check, the registry refuses a second refund of the spend.
        async with in_transaction() as conn:
            twin = await insert_once(
                PointsEntry,
                conn,
                member_id=member.id,
                kind=EntryKind.REFUND,
                amount=200,
                balance_after=700,
                reason="mall_cancel",
                idempotency_key="m-cancel:3",
                refund_of_id=spent.id,
                created_at=datetime(2026, 2, 2, tzinfo=UTC),
            )
        assert twin is None
        assert await _where("points_entries", "idempotency_key", "m:1") == [
            "points_entries_2026_01"
        ]
        assert await _where("points_entries", "id", refund.id) == ["points_entries_2026_02"]
        assert (await Member.get(id=member.id)).points_balance == 500

    async def test_concurrent_twins_write_one_entry(self, services: Services) -> None:
        members = [await create_member() for _ in range(5)]
        results = await asyncio.gather(
            *(
                add_growth(services, members[n % 5].id, 10, reason="purchase", idempotency_key=key)
                for key in ("twin:a", "twin:b")
                for n in range(25)
            ),
            return_exceptions=True,
        )
        written = [r for r in results if not isinstance(r, BaseException) and not r.replayed]
        refused = [r for r in results if isinstance(r, IdempotencyKeyReused)]
        assert len(written) == 2
        assert len(written) + len(refused) + sum(
            1 for r in results if not isinstance(r, BaseException) and r.replayed
        ) == len(results)
        assert await GrowthEntry.filter(idempotency_key__in=["twin:a", "twin:b"]).count() == 2
        keys = await _rows(
            "SELECT count(*) FROM growth_entry_keys WHERE idempotency_key LIKE 'twin:%'"
        )
        assert keys == [(2,)]


@requires_postgres
class TestMonths:
    async def test_months_are_made_ahead_and_take_their_rows_from_the_default(
        self, services: Services
    ) -> None:
        member = await create_member()
        freeze(services, datetime(2031, 5, 10, tzinfo=UTC))
        await add_growth(services, member.id, 10, reason="purchase", idempotency_key="far")
        assert await _where("growth_entries", "idempotency_key", "far") == [
            "growth_entries_default"
        ]
        # May and the three months after it, of every partitioned table.
        expected = [f"{table}_2031_{month:02d}" for table in PARTITIONED for month in range(5, 9)]
        try:
            async with in_transaction() as conn:
                created = await ensure_months(conn, date(2031, 5, 20))
            assert created == expected
            assert await _where("growth_entries", "idempotency_key", "far") == [
                "growth_entries_2031_05"
            ]
            async with in_transaction() as conn:
                assert await ensure_months(conn, date(2031, 5, 21)) == []
        finally:
            async with in_transaction() as conn:
                for name in expected:
                    await conn.execute_script(f'DROP TABLE IF EXISTS "{name}"')

    async def test_a_past_month_is_detached_with_its_rows(self, services: Services) -> None:
        member = await create_member()
        async with in_transaction() as conn:
            await create_month(conn, PARTITIONED["growth_entries"], date(2030, 1, 1))
        freeze(services, datetime(2030, 1, 20, tzinfo=UTC))
        await add_growth(services, member.id, 10, reason="purchase", idempotency_key="old")
        today = date(2030, 3, 1)
        async with in_transaction() as conn:
            with pytest.raises(ValidationFailed) as refused:
                await detach_month(conn, "growth_entries", date(2030, 3, 1), today)
            assert refused.value.code == "month_not_over"
            with pytest.raises(ValidationFailed) as refused:
                await detach_month(conn, "points_lots", date(2030, 1, 1), today)
            assert refused.value.code == "not_partitioned"
            with pytest.raises(NotFound):
                await detach_month(conn, "growth_entries", date(2029, 1, 1), today)
            name = await detach_month(conn, "growth_entries", date(2030, 1, 15), today)
        try:
            assert name == "growth_entries_2030_01"
            assert await GrowthEntry.filter(idempotency_key="old").count() == 0
            assert await _rows(f'SELECT idempotency_key FROM "{name}"') == [("old",)]
            assert date(2030, 1, 1) not in [
                p.month
                for p in await partitions(Tortoise.get_connection("default"), "growth_entries")
            ]
        finally:
            async with in_transaction() as conn:
                await conn.execute_script(f'DROP TABLE "{name}"')


class TestCommand:
    async def test_lists_makes_ahead_and_detaches(
        self, services: Services, settings: dict[str, Any], tmp_path: Path
    ) -> None:
        config_file = command_config(settings, tmp_path)
        code, out, _ = await run_command(config_file, "partitions")
        assert code == 0
        report = json.loads(out)
        if services.config.database.is_sqlite:
            assert report == {"partitioned": False}
            return
        this_month = f"{local_today(services):%Y-%m}"
        for table in PARTITIONED:
            months = [p["month"] for p in report["tables"][table]]
            assert this_month in months and months[-1] is None
        code, _, err = await run_command(
            config_file, "partitions", "--detach", "growth_entries", this_month
        )
        assert (code, err.strip()) == (
            1,
            "error: month: only a month before the current one is detached",
        )
        code, _, err = await run_command(
            config_file, "partitions", "--detach", "growth_entries", "2026-13"
        )
        assert (code, err.strip()) == (1, "error: month: YYYY-MM")
