"""`RowsBy`: the rows of a fixed statement are the rows the ORM would give, on either database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from wxmember.core.context import Services
from wxmember.core.models.stores import Store
from wxmember.core.prepared import RowsBy

_WHEN = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def _fields(rows: list[Any]) -> list[dict[str, Any]]:
    def one(row: Model) -> dict[str, Any]:
        return {name: getattr(row, name) for name in sorted(row._meta.db_fields)}

    return [one(row) for row in rows]


async def _stores() -> None:
    for n, (code, active) in enumerate([("S03", True), ("S01", False), ("S02", True)]):
        await Store.create(
            code=code,
            name=f"门店 {code}",
            active=active,
            created_at=_WHEN.replace(day=n + 1),
            updated_at=_WHEN,
        )


class TestRowsBy:
    async def test_a_row_by_a_unique_column_is_the_orms(self, services: Services) -> None:
        await _stores()
        by_code = RowsBy(Store, "code", limit=1)

        found = await by_code.first(None, "S01")

        assert found is not None
        assert _fields([found]) == _fields([await Store.get(code="S01")])
        assert isinstance(found.created_at, datetime) and found.active is False
        assert await by_code.first(None, "S09") is None

    async def test_order_limit_and_typed_values_are_the_orms(self, services: Services) -> None:
        await _stores()
        newest_active = RowsBy(Store, "active", order=["-code"], limit=2)
        in_code_order = RowsBy(Store, order=["code"])

        assert _fields(await newest_active.all(None, True)) == _fields(
            await Store.filter(active=True).order_by("-code").limit(2)
        )
        assert [s.code for s in await newest_active.all(None, True)] == ["S03", "S02"]
        assert [s.code for s in await in_code_order.all(None)] == ["S01", "S02", "S03"]

    async def test_a_transaction_reads_its_own_writes(self, services: Services) -> None:
        by_code = RowsBy(Store, "code", limit=1)
        async with in_transaction() as conn:
            await Store.create(
                code="S07", name="门店", created_at=_WHEN, updated_at=_WHEN, using_db=conn
            )
            inside = await by_code.first(conn, "S07")
            assert inside is not None and inside.name == "门店"
        assert await by_code.first(None, "S07") is not None
