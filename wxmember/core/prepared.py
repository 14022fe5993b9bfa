"""Hot reads and writes by a fixed SQL text, without the ORM's per-query building.

Building a query through the ORM (filters resolved, SQL rendered, parameters collected) costs
more Python time than the statement itself on the hottest paths (measured here: about 0.6 ms
of the service's CPU for an ORM statement against 0.2-0.3 ms for the same fixed text), such as
the member behind every request and the rows of every ledger write. `RowById`, `RowsBy`,
`LockById` and `InsertRow` render their statements once per dialect and give back the same
model instances the ORM would, so callers cannot tell the difference; the capability modules
keep their own fixed statements beside the code that runs them, written with PostgreSQL's `$1`
and passed through `placeholders`. The models stay the schema: the columns come from their
metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import Field
from tortoise.models import Model

from wxmember.core.partitioning import PARTITIONED, Partitioned, Registry
from wxmember.core.sqlite import SqliteClient

ModelT = TypeVar("ModelT", bound=Model)


def placeholders(conn: BaseDBAsyncClient, sql: str) -> str:
    """SQL written with PostgreSQL's `$1`, for `conn`'s dialect: `?1` on SQLite (numbered, so
    one parameter can appear twice)."""
    if conn.capabilities.dialect == "postgres":
        return sql
    return re.sub(r"\$(\d+)", r"?\1", sql)


def ids_in(conn: BaseDBAsyncClient, ids: Sequence[int], number: int = 1) -> tuple[str, object]:
    """`= ANY($n)` with an array, or `IN json_each($n)` with a JSON list: one statement text
    for any number of ids (PostgreSQL prepares each text once per connection)."""
    if conn.capabilities.dialect == "postgres":
        return f"= ANY(${number}::bigint[])", list(ids)
    return f"IN (SELECT value FROM json_each(${number}))", json.dumps(list(ids))


def partition_key(
    conn: BaseDBAsyncClient, model: type[Model], column: str, value: date, number: int
) -> tuple[str, object]:
    """`$n` for a value of a partitioned table's key (a date or an aware moment), and the value
    to send.

    PostgreSQL prunes partitions by a parameter's value when it plans a statement, so a
    statement naming its table's partition key by parameter is planned anew at every call: a
    generic plan, costed over every partition, never looks the cheaper (about 0.1-0.15 ms of the
    database's CPU each time, measured on the check-in's read of two days). Sent as text and
    cast in the statement, the value is a stable expression instead: the partitions are pruned
    when the statement starts, and one plan serves every call. SQLite has no partitions.
    """
    if conn.capabilities.dialect == "postgres":
        sql_type = "timestamptz" if isinstance(value, datetime) else "date"
        return f"(${number}::text)::{sql_type}", value.isoformat()
    return f"${number}", db_moment(model, column, value)


def db_moment(model: type[Model], column: str, value: date) -> object:
    """A datetime or a date as the ORM stores it in this column, for fixed SQL.

    On SQLite the column holds text, compared as text: an aware moment is given in UTC, as the
    ORM writes every moment, so one written in another time zone still compares as the moment
    it is.
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    return model._meta.fields_map[column].to_db_value(value, model)


async def first_row_of_insert(
    conn: BaseDBAsyncClient, sql: str, parameters: list[Any]
) -> Any | None:
    """The first row an `INSERT … RETURNING` (written with `$1`) gives back, or None when it
    wrote nothing.

    Tortoise's `execute_query` answers an INSERT on PostgreSQL with its status only, never its
    rows, and its `execute_insert` answers on SQLite with the last row id whatever happened.
    """
    if conn.capabilities.dialect == "postgres":
        return await conn.execute_insert(sql, parameters)
    _, rows = await conn.execute_query(placeholders(conn, sql), parameters)
    return rows[0] if rows else None


async def rows_of_insert(conn: BaseDBAsyncClient, sql: str, parameters: list[Any]) -> list[Any]:
    """Every row an `INSERT … RETURNING` (written with `$1`) gives back: the rows it wrote, or
    with `ON CONFLICT DO UPDATE` also the rows it changed.

    (Tortoise's row count of an INSERT on PostgreSQL is the status's OID field, always 0.)
    """
    if conn.capabilities.dialect == "postgres":
        return [tuple(row.values()) for row in await conn.execute_query_dict(sql, parameters)]
    _, rows = await conn.execute_query(placeholders(conn, sql), parameters)
    return list(rows)


async def read_rows(conn: BaseDBAsyncClient, sql: str, parameters: list[Any]) -> Sequence[Any]:
    """The rows of a short, hot read (its text for `conn`'s dialect).

    On SQLite outside a transaction the read is made at once, on the event loop's thread
    (`SqliteClient.read_now`), instead of waiting its turn for the one connection.
    """
    if isinstance(conn, SqliteClient):
        rows = conn.read_now(sql, parameters)
        if rows is not None:
            return rows
    _, found = await conn.execute_query(sql, parameters)
    return found


class RowById(Generic[ModelT]):
    """`SELECT` one row by primary key, with one foreign-key relation joined (or None)."""

    def __init__(self, model: type[ModelT], relation: str) -> None:
        self.model = model
        self.relation = relation
        self._statements: dict[str, tuple[str, list[str], list[str]]] = {}

    def _statement(self, dialect: str) -> tuple[str, list[str], list[str]]:
        found = self._statements.get(dialect)
        if found is None:
            meta = self.model._meta
            field = meta.fields_map[self.relation]
            related: type[Model] = field.related_model  # type: ignore[attr-defined]
            source = field.source_field or f"{self.relation}_id"
            own = sorted(meta.db_fields)
            theirs = sorted(related._meta.db_fields)
            columns = [f'a."{name}"' for name in own] + [f'b."{name}"' for name in theirs]
            parameter = "$1" if dialect == "postgres" else "?"
            sql = (
                f"SELECT {', '.join(columns)} "
                f'FROM "{meta.db_table}" a '
                f'LEFT JOIN "{related._meta.db_table}" b ON b."{related._meta.db_pk_column}" '
                f'= a."{source}" '
                f'WHERE a."{meta.db_pk_column}" = {parameter}'
            )
            found = self._statements[dialect] = (sql, own, theirs)
        return found

    async def get(self, pk: int, using_db: BaseDBAsyncClient | None = None) -> ModelT | None:
        conn = using_db or self.model._meta.db
        sql, own, theirs = self._statement(conn.capabilities.dialect)
        rows = await read_rows(conn, sql, [pk])
        if not rows:
            return None
        values = list(rows[0])
        instance = self.model._init_from_db(**dict(zip(own, values, strict=False)))
        rest: list[Any] = values[len(own) :]
        related: Model | None = None
        if rest[theirs.index(self._related_pk())] is not None:
            related_model = self.model._meta.fields_map[self.relation].related_model  # type: ignore[attr-defined]
            related = related_model._init_from_db(**dict(zip(theirs, rest, strict=True)))
        object.__setattr__(instance, f"_{self.relation}", related)
        return instance

    def _related_pk(self) -> str:
        field = self.model._meta.fields_map[self.relation]
        return str(field.related_model._meta.db_pk_column)  # type: ignore[attr-defined]


class RowsBy(Generic[ModelT]):
    """`SELECT` a model's rows whose columns equal the given values, by one fixed statement,
    in `order` (column names, `-` for descending) and at most `limit` of them.

    The ORM's `Model.filter(…).order_by(…)` without its per-query building: for reads on the
    write paths (an order by its number, the ladder in level order), where the ORM's Python
    time was most of the statement's.
    """

    def __init__(
        self, model: type[ModelT], *columns: str, order: Sequence[str] = (), limit: int = 0
    ) -> None:
        self.model = model
        self.columns = columns
        self.order = tuple(order)
        self.limit = limit
        self._statements: dict[str, str] = {}

    @cached_property
    def _selected(self) -> list[str]:
        # read at first use: the relations' columns exist once Tortoise is initialised
        return sorted(self.model._meta.db_fields)

    @cached_property
    def _to_db(self) -> list[Field[Any]]:
        meta = self.model._meta
        return [meta.fields_map[meta.fields_db_projection_reverse[c]] for c in self.columns]

    def _sql(self, conn: BaseDBAsyncClient) -> str:
        dialect = conn.capabilities.dialect
        found = self._statements.get(dialect)
        if found is None:
            listed = ", ".join(f'"{column}"' for column in self._selected)
            sql = f'SELECT {listed} FROM "{self.model._meta.db_table}"'
            if self.columns:
                equal = (f'"{column}" = ${n}' for n, column in enumerate(self.columns, 1))
                sql += " WHERE " + " AND ".join(equal)
            if self.order:
                ordered = (
                    f'"{name.removeprefix("-")}"' + (" DESC" if name.startswith("-") else "")
                    for name in self.order
                )
                sql += " ORDER BY " + ", ".join(ordered)
            if self.limit:
                sql += f" LIMIT {self.limit}"
            found = self._statements[dialect] = placeholders(conn, sql)
        return found

    async def all(self, using_db: BaseDBAsyncClient | None, *values: Any) -> list[ModelT]:
        """The rows, as the ORM would give them; through `using_db` (a transaction) or the
        model's own connection."""
        conn = using_db or self.model._meta.db
        parameters = [
            field.to_db_value(value, self.model)
            for field, value in zip(self._to_db, values, strict=True)
        ]
        rows = await read_rows(conn, self._sql(conn), parameters)
        init = self.model._init_from_db
        return [init(**dict(zip(self._selected, row, strict=True))) for row in rows]

    async def first(self, using_db: BaseDBAsyncClient | None, *values: Any) -> ModelT | None:
        """The first row, or None."""
        rows = await self.all(using_db, *values)
        return rows[0] if rows else None


class LockById(Generic[ModelT]):
    """`SELECT … FOR NO KEY UPDATE` one row by primary key, optionally only while a column is
    NULL (a plain `SELECT` on SQLite, where the write transaction already keeps other writers
    out)."""

    def __init__(self, model: type[ModelT], unless_set: str) -> None:
        self.model = model
        self.unless_set = unless_set
        self._statements: dict[tuple[str, bool], str] = {}

    @cached_property
    def _columns(self) -> list[str]:
        # read at first use: the relations' columns exist once Tortoise is initialised
        return sorted(self.model._meta.db_fields)

    def _sql(self, conn: BaseDBAsyncClient, any_row: bool) -> str:
        dialect = conn.capabilities.dialect
        found = self._statements.get((dialect, any_row))
        if found is None:
            meta = self.model._meta
            columns = ", ".join(f'"{column}"' for column in self._columns)
            sql = f'SELECT {columns} FROM "{meta.db_table}" WHERE "{meta.db_pk_column}" = $1'
            if not any_row:
                sql += f' AND "{self.unless_set}" IS NULL'
            if dialect == "postgres":
                sql += " FOR NO KEY UPDATE"
            found = self._statements[(dialect, any_row)] = placeholders(conn, sql)
        return found

    async def get(
        self, conn: BaseDBAsyncClient, pk: int, *, any_row: bool = False
    ) -> ModelT | None:
        """The row, locked until `conn`'s transaction ends; with `any_row` also when the column
        is set."""
        _, rows = await conn.execute_query(self._sql(conn, any_row), [pk])
        if not rows:
            return None
        return self.model._init_from_db(**dict(zip(self._columns, rows[0], strict=True)))


class InsertRow(Generic[ModelT]):
    """`INSERT … RETURNING` the key, as `Model.create` would, by a fixed statement.

    With `skip_taken` it is `INSERT … ON CONFLICT DO NOTHING`: a row that a unique constraint
    says exists already is not written and nothing fails, so the caller's transaction needs no
    savepoint around the attempt (two round trips saved on every ledger write). Other
    violations (a missing foreign row, a NULL) still raise.

    On PostgreSQL the same insert can also be one part of a larger statement (`within`), so
    that the writes that go with it need no round trip of their own.
    """

    def __init__(self, model: type[ModelT], *, skip_taken: bool = False) -> None:
        self.model = model
        self.skip_taken = skip_taken
        self._statements: dict[str, tuple[str, list[str]]] = {}

    def _parts(self, conn: BaseDBAsyncClient, name: str) -> tuple[str | None, str, list[str]]:
        """The query it needs first (named `name`), or None; the `INSERT` without its
        `RETURNING`; the fields it writes, in the order of their parameters `$1…`."""
        meta = self.model._meta
        names = list(conn.executor_class(model=self.model, db=conn).regular_columns)
        columns = ", ".join(f'"{meta.fields_db_projection[field]}"' for field in names)
        spec = PARTITIONED.get(meta.db_table)
        if conn.capabilities.dialect == "postgres" and spec is not None and spec.registry:
            first, rows = _registered(spec.registry, spec, names, name, skip=self.skip_taken)
            return first, f'INSERT INTO "{spec.table}" ("id", {columns}) {rows}', names
        insert = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({_numbered(names)})'
        if self.skip_taken:
            insert += " ON CONFLICT DO NOTHING"
        return None, insert, names

    def statement(self, conn: BaseDBAsyncClient) -> str:
        """The statement for `conn`'s dialect (its parameters come from `parameters`)."""
        return self._sql(conn)[0]

    def _sql(self, conn: BaseDBAsyncClient) -> tuple[str, list[str]]:
        dialect = conn.capabilities.dialect
        found = self._statements.get(dialect)
        if found is None:
            first, insert, names = self._parts(conn, "registered")
            sql = f"WITH {first} {insert}" if first else insert
            returning = f' RETURNING "{self.model._meta.db_pk_column}"'
            found = self._statements[dialect] = (sql + returning, names)
        return found

    def within(self, conn: BaseDBAsyncClient, name: str) -> tuple[str, int]:
        """The insert as the queries of a PostgreSQL `WITH` (`name` answers the new key, no row
        when the key was taken), and how many parameters (`$1…`) it takes."""
        if conn.capabilities.dialect != "postgres":
            raise NotImplementedError("only PostgreSQL writes in a WITH")
        first, insert, names = self._parts(conn, f"{name}_key")
        query = f'{name} AS ({insert} RETURNING "{self.model._meta.db_pk_column}")'
        return (f"{first}, {query}" if first else query), len(names)

    def parameters(self, conn: BaseDBAsyncClient, **values: Any) -> tuple[ModelT, list[Any]]:
        """The new row as `Model.create` would build it, and its values as the database takes
        them, in the order of the statement's parameters."""
        instance = self.model(**values)
        _, names = self._sql(conn)
        fields_map = self.model._meta.fields_map
        return instance, [
            fields_map[name].to_db_value(getattr(instance, name), instance) for name in names
        ]

    async def insert(self, conn: BaseDBAsyncClient, **values: Any) -> ModelT | None:
        """The new row, as `Model.create` would return it; None when its key is taken."""
        return await self.write(conn, *self.parameters(conn, **values))

    async def write(
        self, conn: BaseDBAsyncClient, instance: ModelT, parameters: list[Any]
    ) -> ModelT | None:
        """Insert a row built by `parameters` by its own statement: the row with its new key,
        or None when its key is taken."""
        row = await first_row_of_insert(conn, self.statement(conn), parameters)
        return saved(instance, row[0] if row is not None else None)


def saved(instance: ModelT, key: Any) -> ModelT | None:
    """A new row's instance with the key the database gave it; None when it wrote nothing."""
    if key is None:
        return None
    instance.pk = key
    instance._saved_in_db = True
    return instance


def shifted(sql: str, by: int) -> str:
    """SQL written with `$1…` whose parameters come after `by` others in a larger statement."""
    return re.sub(r"\$(\d+)", lambda found: f"${int(found.group(1)) + by}", sql)


def _registered(
    registry: Registry, spec: Partitioned, fields: list[str], name: str, *, skip: bool
) -> tuple[str, str]:
    """The insert of a partitioned ledger's row (wxmember/core/partitioning.py): its registry
    row first (the query `name`), which gives the id and holds the unique keys, then the row
    itself, only if the registry took it. With `skip` a taken key writes nothing; without, it
    raises."""
    unique = ", ".join(f'"{column}"' for column in registry.columns)
    given = ", ".join(f"${fields.index(column) + 1}" for column in registry.columns)
    first = (
        f'{name} AS (INSERT INTO "{registry.table}" ("id", {unique})'
        f" VALUES (nextval('{spec.sequence}'), {given})"
        + (" ON CONFLICT DO NOTHING" if skip else "")
        + ' RETURNING "id")'
    )
    return first, f'SELECT "id", {_numbered(fields)} FROM {name}'


def _numbered(fields: list[str]) -> str:
    return ", ".join(f"${number}" for number in range(1, len(fields) + 1))


# A column of a multi-row insert: name, field, auto_now, auto_now_add, default, callable default.
_Column = tuple[str, Field[Any], bool, bool, Any, bool]
# Fewer parameters than either database allows in one statement (SQLite's 32766 by default,
# PostgreSQL's 65535).
_MOST_PARAMETERS = 30_000


class InsertRows(Generic[ModelT]):
    """A multi-row `INSERT` of many rows by one statement (more when the parameters would not
    fit one), for set-based writes such as a batch of imported members.

    Nothing is returned: callers read the new rows back by a unique column they know. With
    `skip_taken` a row whose unique key is taken is not written (`ON CONFLICT DO NOTHING`);
    `on_conflict` is any other conflict clause (the text after `ON CONFLICT`).
    """

    def __init__(
        self, model: type[ModelT], *, skip_taken: bool = False, on_conflict: str | None = None
    ) -> None:
        self.model = model
        self.on_conflict = "DO NOTHING" if skip_taken else on_conflict
        self._fields: list[_Column] | None = None

    def _columns(self, conn: BaseDBAsyncClient) -> list[_Column]:
        if self._fields is None:
            names = conn.executor_class(model=self.model, db=conn).regular_columns
            self._fields = []
            for name in names:
                field = self.model._meta.fields_map[name]
                self._fields.append(
                    (
                        name,
                        field,
                        bool(getattr(field, "auto_now", False)),
                        bool(getattr(field, "auto_now_add", False)),
                        field.default,
                        callable(field.default),
                    )
                )
        return self._fields

    async def insert(self, conn: BaseDBAsyncClient, rows: Sequence[dict[str, Any]]) -> None:
        """Insert `rows` (values by field name; a missing one takes its field's default, and
        `auto_now`/`auto_now_add` datetimes are set, as `Model.create` would)."""
        meta = self.model._meta
        postgres = conn.capabilities.dialect == "postgres"
        fields = self._columns(conn)
        spec = PARTITIONED.get(meta.db_table)
        if postgres and spec is not None and spec.registry is not None:
            rows = await _register(conn, spec, spec.registry, rows, self.on_conflict)
            fields = [("id", meta.fields_map["id"], False, False, None, False), *fields]
        if not rows:
            return
        columns = ", ".join(f'"{meta.fields_db_projection[column[0]]}"' for column in fields)
        width = len(fields)
        per_statement = max(1, _MOST_PARAMETERS // width)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            now = timezone.localtime()
            parameters: list[Any] = []
            append = parameters.append
            for values in chunk:
                get = values.get
                for name, field, stamped, stamped_once, default, made in fields:
                    # as a new model instance would hold it: the field's default when the
                    # value is missing, `auto_now`/`auto_now_add` datetimes set
                    value = get(name, _MISSING)
                    if value is _MISSING:
                        value = now if stamped or stamped_once else default() if made else default
                    elif stamped or (stamped_once and value is None):
                        value = now
                    append(field.to_db_value(value, self.model))
            if postgres:
                tuples = ", ".join(
                    "(" + ", ".join(f"${first + n}" for n in range(width)) + ")"
                    for first in range(1, len(parameters) + 1, width)
                )
            else:
                tuples = ", ".join(["(" + ", ".join("?" * width) + ")"] * len(chunk))
            sql = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES {tuples}'
            if self.on_conflict is not None:
                sql += f" ON CONFLICT {self.on_conflict}"
            await conn.execute_query(sql, parameters)


_MISSING = object()


async def _register(
    conn: BaseDBAsyncClient,
    spec: Partitioned,
    registry: Registry,
    rows: Sequence[dict[str, Any]],
    on_conflict: str | None,
) -> list[dict[str, Any]]:
    """Register the rows of a partitioned ledger (the bulk form of `_registered`, which skips
    taken keys): the rows whose key this call registered (the first row of each key), each with
    its id. The others were written before, or by a concurrent twin."""
    if on_conflict != "DO NOTHING":
        raise NotImplementedError(f"a bulk insert into {spec.table} with {on_conflict!r}")
    first: dict[Any, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row[registry.key], row)
    listed = ", ".join(f'"{column}"' for column in registry.columns)
    # The key is text; the other unique columns are ids (a refund's spend).
    arrays = ", ".join(
        f"${n}::{'varchar' if n == 1 else 'bigint'}[]" for n in range(1, len(registry.columns) + 1)
    )
    registered = await conn.execute_query_dict(  # execute_query would drop an INSERT's rows
        f'INSERT INTO "{registry.table}" ("id", {listed})'
        f" SELECT nextval('{spec.sequence}'), * FROM unnest({arrays})"
        f' ON CONFLICT DO NOTHING RETURNING "id", "{registry.key}"',
        [[row.get(column) for row in first.values()] for column in registry.columns],
    )
    ids = {row[registry.key]: row["id"] for row in registered}
    return [{**row, "id": ids[key]} for key, row in first.items() if key in ids]
