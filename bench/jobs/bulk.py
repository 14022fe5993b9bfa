"""Bulk loading with COPY, and putting the tables in the state a live database would be in.

Rows are written with explicit ids, so each table's id sequence is moved past them afterwards:
rows the jobs insert then get fresh ids. A partitioned ledger's rows are registered first, as
the service's inserts do (wxmember/core/partitioning.py). VACUUM ANALYZE afterwards gives the
planner the statistics and the visibility map that autovacuum keeps on a database in service.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import asyncpg

from bench.jobs.progress import say
from wxmember.core.partitioning import PARTITIONED

Record = tuple[object, ...]


class Loader:
    """COPYs rows in chunks into tables, counting rows and seconds per table."""

    def __init__(self, conn: asyncpg.Connection, chunk: int = 50_000) -> None:
        self.conn = conn
        self.chunk = chunk
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    async def copy(self, table: str, columns: Sequence[str], records: Iterable[Record]) -> None:
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.chunk:
                await self._flush(table, columns, batch)
                batch = []
        if batch:
            await self._flush(table, columns, batch)

    async def _flush(self, table: str, columns: Sequence[str], batch: list[Record]) -> None:
        started = time.perf_counter()
        spec = PARTITIONED.get(table)
        if spec is not None and spec.registry is not None:
            registry = spec.registry
            named = ["id", *(column for column in registry.columns if column in columns)]
            places = [list(columns).index(column) for column in named]
            await self.conn.copy_records_to_table(
                registry.table,
                records=[tuple(record[n] for n in places) for record in batch],
                columns=named,
            )
        await self.conn.copy_records_to_table(table, records=batch, columns=list(columns))
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started
        self.rows[table] = self.rows.get(table, 0) + len(batch)


async def finish_tables(conn: asyncpg.Connection, tables: Sequence[str]) -> float:
    """Move id sequences past the seeded ids, then VACUUM ANALYZE; the seconds it took."""
    started = time.perf_counter()
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)'
        )
    for table in tables:
        say(f"  vacuum analyze {table}")
        await conn.execute(f'VACUUM ANALYZE "{table}"')
    return time.perf_counter() - started


async def table_rows(conn: asyncpg.Connection, tables: Sequence[str]) -> dict[str, int]:
    """Exact row counts of some tables."""
    return {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}
