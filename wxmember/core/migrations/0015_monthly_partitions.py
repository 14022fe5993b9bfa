"""PostgreSQL: the points ledger, growth entries and check-ins kept in monthly partitions.

Each table is rebuilt as `PARTITION BY RANGE` of its date column (the ledgers by `created_at`,
months in UTC; check-ins by `day`), with one partition per month from its oldest row to three
months ahead and a default partition for anything outside them; the rows are copied and the old
table dropped. Its indexes and foreign keys are recreated under the same names, its id sequence
carries on, and the primary key becomes (id, month column), as a partitioned table requires.

A ledger's idempotency key must stay unique across months (and a points refund must give a
spend back once), which an index of a partitioned table cannot say, and other tables' foreign
keys (points lots and allocations) can no longer point at it. So each ledger gets a registry
(wxmember/core/partitioning.py): `points_entry_keys` and `growth_entry_keys`, holding every
row's id and its unique keys, filled from the old table. The ledger's rows, and the foreign keys
that pointed at the ledger, point at the registry; the unique columns keep a plain index in the
ledger for their look-ups. Check-ins keep their unique (member, day): it includes the partition
column.

The tables are locked while they are copied: run it at a quiet hour. It is not reversible: the
way back is the backup taken before. SQLite: nothing changes.
"""

from datetime import date, datetime, timezone

from tortoise import migrations
from tortoise.migrations import operations as ops

MONTHS_AHEAD = 3
# table, partition column, a timestamp (else a date), registry and the columns unique in it
TABLES = (
    (
        "points_entries",
        "created_at",
        True,
        "points_entry_keys",
        ("idempotency_key", "refund_of_id"),
    ),
    ("growth_entries", "created_at", True, "growth_entry_keys", ("idempotency_key",)),
    ("checkins", "day", False, None, ()),
)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date, moment: bool) -> str:
    return f"'{month.isoformat()} 00:00:00+00'" if moment else f"'{month.isoformat()}'"


async def _rows(conn, sql: str) -> list[dict]:
    _, rows = await conn.execute_query(sql)
    return [dict(row) for row in rows]


async def partition(apps, schema_editor) -> None:
    conn = schema_editor.client
    if conn.capabilities.dialect != "postgres":
        return
    this_month = datetime.now(timezone.utc).date().replace(day=1)
    for table, column, moment, registry, unique in TABLES:
        await _partition(conn, table, column, moment, registry, unique, this_month)


async def _partition(conn, table, column, moment, registry, unique, this_month) -> None:
    old = f"{table}__unpartitioned"
    indexes = await _rows(
        conn,
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition,"
        " x.indisunique AS is_unique, c.conname AS constraint_name,"
        " (SELECT array_agg(a.attname::text) FROM pg_attribute a"
        "  WHERE a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)) AS columns"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid"
        f" WHERE x.indrelid = '\"{table}\"'::regclass AND NOT x.indisprimary ORDER BY i.relname",
    )
    # Foreign keys of the table, and of other tables into it (those move to the registry).
    foreign = await _rows(
        conn,
        "SELECT conname AS name, conrelid::regclass::text AS owner,"
        " confrelid = conrelid AS to_itself, pg_get_constraintdef(oid) AS definition"
        f" FROM pg_constraint WHERE contype = 'f' AND (conrelid = '\"{table}\"'::regclass"
        f" OR confrelid = '\"{table}\"'::regclass) ORDER BY conname",
    )
    sequence = (await _rows(conn, f"SELECT pg_get_serial_sequence('\"{table}\"', 'id') AS s"))[0][
        "s"
    ]
    first = (await _rows(conn, f'SELECT MIN("{column}") AS first FROM "{table}"'))[0]["first"]
    month = min(first.date() if moment else first, this_month) if first else this_month
    month = month.replace(day=1)
    last = this_month
    for _ in range(MONTHS_AHEAD):
        last = _next(last)

    script = [f'ALTER TABLE "{fk["owner"]}" DROP CONSTRAINT "{fk["name"]}"' for fk in foreign]
    script += [
        f'ALTER TABLE "{table}" RENAME TO "{old}"',
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS) PARTITION BY RANGE ("{column}")',
    ]
    while month <= last:
        script.append(
            f'CREATE TABLE "{table}_{month:%Y_%m}" PARTITION OF "{table}"'
            f" FOR VALUES FROM ({_bound(month, moment)}) TO ({_bound(_next(month), moment)})"
        )
        month = _next(month)
    script.append(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    script.append(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    if registry:
        key, *others = unique
        script.append(
            f'CREATE TABLE "{registry}" ("id" BIGINT NOT NULL PRIMARY KEY,'
            f' "{key}" VARCHAR(128) NOT NULL UNIQUE'
            + "".join(
                f', "{other}" BIGINT UNIQUE REFERENCES "{registry}" ("id")' for other in others
            )
            + ")"
        )
        listed = ", ".join(f'"{name}"' for name in unique)
        script.append(
            f'INSERT INTO "{registry}" ("id", {listed}) SELECT "id", {listed} FROM "{old}" ORDER BY "id"'
        )
    if sequence:
        script.append(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    script.append(f'DROP TABLE "{old}"')
    if sequence:
        script.append(f'ALTER SEQUENCE {sequence} OWNED BY "{table}"."id"')
    script.append(f'ALTER TABLE "{table}" ADD PRIMARY KEY ("id", "{column}")')
    for index in indexes:
        moved = index["is_unique"] and set(index["columns"]) <= set(unique)
        if moved:  # unique in the registry; an index for the look-ups stays
            columns = ", ".join(f'"{name}"' for name in index["columns"])
            script.append(f'CREATE INDEX "{index["name"]}" ON "{table}" ({columns})')
        elif index["constraint_name"]:
            columns = index["definition"].split(" USING btree ")[1]
            script.append(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{index["constraint_name"]}" UNIQUE {columns}'
            )
        else:
            script.append(index["definition"])  # read before the old table went: names this one
    for fk in foreign:
        definition = fk["definition"]
        if registry and (fk["to_itself"] or fk["owner"] != table):
            definition = definition.replace(f"REFERENCES {table}(", f'REFERENCES "{registry}"(')
        script.append(f'ALTER TABLE "{fk["owner"]}" ADD CONSTRAINT "{fk["name"]}" {definition}')
    if registry:
        script.append(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_registered"'
            f' FOREIGN KEY ("id") REFERENCES "{registry}" ("id")'
        )
    await conn.execute_script(";\n".join(script))


class Migration(migrations.Migration):
    dependencies = [("models", "0014_points_expiry")]

    initial = False

    operations = [ops.RunPython(partition)]
