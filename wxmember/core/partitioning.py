"""The tables kept in monthly partitions on PostgreSQL, and the partitions themselves.

The tables that grow for as long as the brand exists and are read by member and by recent
dates are split by month (`PARTITION BY RANGE`, one partition per calendar month of the
partition column, UTC for a timestamp, plus a default partition that catches any row outside
them). An old month can then be detached, archived and dropped without a long `DELETE`, and
vacuum and index builds work a month at a time. SQLite keeps each as one table: nothing here
applies to it.

A unique index of a partitioned table must include its partition column, and a foreign key
can point at a partitioned table only through such an index. So a partitioned ledger has a
registry (`Registry`): a narrow table, not partitioned, that hands out the ids of its rows and
holds what must be unique across months (the idempotency key; for the points ledger also the
spend a refund gives back). Each insert registers its row there in the same statement
(wxmember/core/prepared.py), so a retry, or a concurrent twin, meets the key whatever month it
comes in; every row of the ledger refers to its registry row, and foreign keys into the ledger
(points lots and allocations) point at the registry.

The partitions are created ahead (`MONTHS_AHEAD`) by the migration that introduced them and
then daily by the scheduler (`ensure_months`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.errors import NotFound, ValidationFailed

# Months created ahead of the current one: a scheduler down for weeks still finds them there.
MONTHS_AHEAD = 3


@dataclass(frozen=True)
class Registry:
    """The registry of a partitioned ledger: `id` (the ledger row's), `key` and each of
    `also_unique`, unique across every month."""

    table: str
    key: str = "idempotency_key"
    also_unique: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.key, *self.also_unique)


@dataclass(frozen=True)
class Partitioned:
    """A table partitioned by month of `column` (a UTC timestamp, or a date when not `moment`)."""

    table: str
    column: str
    moment: bool = True
    registry: Registry | None = None

    @property
    def sequence(self) -> str:
        """The sequence of its ids (the registry takes them from it)."""
        return f"{self.table}_id_seq"

    def bound(self, month: date) -> str:
        """The SQL literal of the first instant of `month` in the partition column."""
        return f"'{month.isoformat()} 00:00:00+00'" if self.moment else f"'{month.isoformat()}'"


PARTITIONED: dict[str, Partitioned] = {
    spec.table: spec
    for spec in (
        Partitioned(
            "points_entries",
            "created_at",
            registry=Registry("points_entry_keys", also_unique=("refund_of_id",)),
        ),
        Partitioned("growth_entries", "created_at", registry=Registry("growth_entry_keys")),
        Partitioned("checkins", "day", moment=False),
    )
}


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


@dataclass(frozen=True)
class Partition:
    """One partition as the database has it: its month (None for the default) and row estimate."""

    name: str
    month: date | None
    rows: int


def _month_of(name: str, table: str) -> date | None:
    suffix = name.removeprefix(f"{table}_")
    try:
        return datetime.strptime(suffix, "%Y_%m").date()
    except ValueError:
        return None


async def partitions(conn: BaseDBAsyncClient, table: str) -> list[Partition]:
    """The partitions of `table`, months in order, then the default; [] when not partitioned."""
    _, rows = await conn.execute_query(
        "SELECT c.relname AS name, GREATEST(c.reltuples, 0)::bigint AS rows"
        " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass($1) ORDER BY c.relname",
        [table],
    )
    found = [Partition(row["name"], _month_of(row["name"], table), row["rows"]) for row in rows]
    return sorted(found, key=lambda p: (p.month is None, p.month or date.min))


async def create_month(conn: BaseDBAsyncClient, spec: Partitioned, month: date) -> bool:
    """Create `month`'s partition if missing; rows of that month already in the default
    partition move into it. True when it was created. Run inside a transaction."""
    name = partition_name(spec.table, month)
    _, exists = await conn.execute_query("SELECT to_regclass($1) IS NOT NULL AS found", [name])
    if exists[0]["found"]:
        return False
    low, high, column = spec.bound(month), spec.bound(next_month(month)), spec.column
    await conn.execute_script(
        f'CREATE TABLE "{name}" (LIKE "{spec.table}" INCLUDING DEFAULTS);'
        f' WITH moved AS (DELETE FROM "{spec.table}_default"'
        f' WHERE "{column}" >= {low} AND "{column}" < {high} RETURNING *)'
        f' INSERT INTO "{name}" SELECT * FROM moved;'
        f' ALTER TABLE "{spec.table}" ATTACH PARTITION "{name}" FOR VALUES FROM ({low}) TO ({high})'
    )
    return True


async def ensure_months(conn: BaseDBAsyncClient, today: date) -> list[str]:
    """The partitions of this month and `MONTHS_AHEAD` after it, for every partitioned table;
    the names of those created. Nothing on SQLite, or before the tables were partitioned."""
    if conn.capabilities.dialect != "postgres":
        return []
    created = []
    for spec in PARTITIONED.values():
        if not await partitions(conn, spec.table):
            continue
        month = month_start(today)
        for _ in range(MONTHS_AHEAD + 1):
            if await create_month(conn, spec, month):
                created.append(partition_name(spec.table, month))
            month = next_month(month)
    return created


async def detach_month(conn: BaseDBAsyncClient, table: str, month: date, today: date) -> str:
    """Detach `month`'s partition of `table`: it stays as a table of its own, to be archived
    (`pg_dump -t NAME`) and dropped. Only a month before the current one; its name."""
    spec = PARTITIONED.get(table)
    if spec is None:
        raise ValidationFailed(f"table: one of {', '.join(PARTITIONED)}", code="not_partitioned")
    if month_start(month) >= month_start(today):
        raise ValidationFailed(
            "month: only a month before the current one is detached", code="month_not_over"
        )
    name = partition_name(table, month_start(month))
    if not any(p.name == name for p in await partitions(conn, table)):
        raise NotFound(f"No partition {name}.", code="partition_not_found")
    await conn.execute_script(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
    return name


async def overview(conn: BaseDBAsyncClient) -> dict[str, list[dict[str, object]]]:
    """Every partitioned table's partitions: name, month (YYYY-MM, null for the default) and
    the planner's row estimate."""
    return {
        table: [
            {"name": p.name, "month": f"{p.month:%Y-%m}" if p.month else None, "rows": p.rows}
            for p in await partitions(conn, table)
        ]
        for table in PARTITIONED
    }
