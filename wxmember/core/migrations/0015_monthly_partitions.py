"""PostgreSQL: growth entries and check-ins kept in monthly partitions.

Each table is rebuilt as `PARTITION BY RANGE` of its date column (growth entries by
`created_at`, months in UTC; check-ins by `day`), with one partition per month from its oldest
row to three months ahead and a default partition for anything outside them; the rows are
copied and the old table dropped. Its indexes and foreign keys are recreated under the same
names, its id sequence carries on, and the primary key becomes (id, month column), as a
partitioned table requires.

A growth entry's idempotency key must stay unique across months, which an index of a
partitioned table cannot say: the keys move to `growth_entry_keys`, where every insert claims
its key (wxmember/core/partitioning.py). Check-ins keep their unique (member, day): it includes
the partition column.

The tables are locked while they are copied: run it at a quiet hour. SQLite: nothing changes.
"""

from datetime import date, datetime, timezone

from tortoise import migrations
from tortoise.migrations import operations as ops

MONTHS_AHEAD = 3
# table, partition column, its type is a timestamp, unique key moved out (its table)
TABLES = (
    ("growth_entries", "created_at", True, ("idempotency_key", "growth_entry_keys")),
    ("checkins", "day", False, None),
)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date, moment: bool) -> str:
    return f"'{month.isoformat()} 00:00:00+00'" if moment else f"'{month.isoformat()}'"


async def _rows(conn, sql: str) -> list[dict]:
    _, rows = await conn.execute_query(sql)
    return [dict(row) for row in rows]


async def _definitions(conn, table: str) -> tuple[list[dict], list[dict], str | None]:
    """The table's indexes (but the primary key), foreign keys and id sequence."""
    indexes = await _rows(
        conn,
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition,"
        " x.indisunique AS is_unique, c.conname AS constraint_name"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid"
        f" WHERE x.indrelid = '\"{table}\"'::regclass AND NOT x.indisprimary ORDER BY i.relname",
    )
    foreign = await _rows(
        conn,
        "SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        f" WHERE conrelid = '\"{table}\"'::regclass AND contype = 'f' ORDER BY conname",
    )
    sequence = await _rows(conn, f"SELECT pg_get_serial_sequence('\"{table}\"', 'id') AS name")
    return indexes, foreign, sequence[0]["name"]


async def partition(apps, schema_editor) -> None:
    conn = schema_editor.client
    if conn.capabilities.dialect != "postgres":
        return
    this_month = datetime.now(timezone.utc).date().replace(day=1)
    for table, column, moment, moved_key in TABLES:
        old = f"{table}__unpartitioned"
        indexes, foreign, sequence = await _definitions(conn, table)
        oldest = await _rows(conn, f'SELECT MIN("{column}") AS first FROM "{table}"')
        first = oldest[0]["first"]
        month = min(first.date() if moment else first, this_month) if first else this_month
        month = month.replace(day=1)
        last = this_month
        for _ in range(MONTHS_AHEAD):
            last = _next(last)
        script = [
            f'ALTER TABLE "{table}" RENAME TO "{old}"',
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS)'
            f' PARTITION BY RANGE ("{column}")',
        ]
        while month <= last:
            script.append(
                f'CREATE TABLE "{table}_{month:%Y_%m}" PARTITION OF "{table}"'
                f" FOR VALUES FROM ({_bound(month, moment)}) TO ({_bound(_next(month), moment)})"
            )
            month = _next(month)
        script.append(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
        script.append(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
        if moved_key:
            key, keys_table = moved_key
            script.append(
                f'CREATE TABLE "{keys_table}" ("{key}" VARCHAR(128) NOT NULL PRIMARY KEY)'
            )
            script.append(f'INSERT INTO "{keys_table}" SELECT "{key}" FROM "{old}"')
        if sequence:
            script.append(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        script.append(f'DROP TABLE "{old}"')
        if sequence:
            script.append(f'ALTER SEQUENCE {sequence} OWNED BY "{table}"."id"')
        script.append(f'ALTER TABLE "{table}" ADD PRIMARY KEY ("id", "{column}")')
        for index in indexes:
            if moved_key and index["is_unique"] and f"({moved_key[0]})" in index["definition"]:
                continue  # kept by the keys table
            script.append(_recreate(table, index))
        script += _foreign_keys(table, foreign)
        await conn.execute_script(";\n".join(script))


def _recreate(table: str, index: dict) -> str:
    """The index again, read before the old table went (its definition names the table)."""
    if index["constraint_name"]:
        columns = index["definition"].split(" USING btree ")[1]
        return f'ALTER TABLE "{table}" ADD CONSTRAINT "{index["constraint_name"]}" UNIQUE {columns}'
    return index["definition"].replace(" ON ONLY ", " ON ")


def _foreign_keys(table: str, foreign: list[dict]) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint["name"]}" {constraint["definition"]}'
        for constraint in foreign
    ]


async def unpartition(apps, schema_editor) -> None:
    conn = schema_editor.client
    if conn.capabilities.dialect != "postgres":
        return
    for table, column, _, moved_key in TABLES:
        old = f"{table}__partitioned"
        indexes, foreign, sequence = await _definitions(conn, table)
        script = [
            f'ALTER TABLE "{table}" RENAME TO "{old}"',
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS)',
            f'INSERT INTO "{table}" SELECT * FROM "{old}"',
        ]
        if sequence:
            script.append(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        script.append(f'DROP TABLE "{old}"')
        if sequence:
            script.append(f'ALTER SEQUENCE {sequence} OWNED BY "{table}"."id"')
        script.append(f'ALTER TABLE "{table}" ADD PRIMARY KEY ("id")')
        script += [_recreate(table, index) for index in indexes]
        if moved_key:
            key, keys_table = moved_key
            script.append(f'ALTER TABLE "{table}" ADD UNIQUE ("{key}")')
            script.append(f'DROP TABLE "{keys_table}"')
        script += _foreign_keys(table, foreign)
        await conn.execute_script(";\n".join(script))


class Migration(migrations.Migration):
    dependencies = [("models", "0014_points_expiry")]

    initial = False

    operations = [ops.RunPython(partition, unpartition)]
