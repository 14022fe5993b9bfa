"""Tortoise's SQLite client, counting the rows a statement itself changed, with a reader for
hot reads.

Tortoise's own client answers a write with the difference of the connection's
`total_changes`, which also counts what triggers wrote: an UPDATE of one member that a trigger
follows with an UPDATE of their wallet card (migration 0017) would report two rows, and every
check of "exactly one row changed" (the ledger's, a conditional claim's) would fail on SQLite
only. Here the count is the cursor's `rowcount` (SQLite's `changes()`: the statement's own
rows), as PostgreSQL reports it. Used as the engine of every SQLite connection
(`wxmember.core.db`).

Tortoise gives a SQLite database one connection, taken by one statement or transaction at a
time. The hot reads outside transactions (`prepared.read_rows`) skip that queue through a
second connection read on the event loop's thread (`SqliteClient.read_now`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import NestedTransactionContext, TransactionContext
from tortoise.backends.sqlite import client as tortoise_sqlite
from tortoise.backends.sqlite.client import translate_exceptions


def _run(
    connection: sqlite3.Connection, query: str, values: list[Any] | None
) -> tuple[int, list[Any]]:
    """On aiosqlite's thread: the statement's rows and the rows it changed itself."""
    cursor = connection.execute(query, values or [])
    try:
        rows = cursor.fetchall()  # before the count: a RETURNING statement counts as it is read
        return cursor.rowcount, rows
    finally:
        cursor.close()


class _OwnRows:
    """`execute_query` counting the statement's own rows (a mixin of the two clients below)."""

    @translate_exceptions
    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[str, Any]]]:
        query = query.replace("\x00", "'||CHAR(0)||'")
        async with self.acquire_connection() as connection:  # type: ignore[attr-defined]
            self.log.debug("%s: %s", query, values)  # type: ignore[attr-defined]
            # One trip to aiosqlite's thread for the statement, its rows and its count; its
            # cursor API makes three (execute, fetch, close), and the one connection stays
            # taken while each trip's answer waits for the busy event loop to pick it up.
            changed, rows = await connection._execute(_run, connection._conn, query, values)
            return max(changed, 0) or len(rows), rows


class SqliteTransactionWrapper(_OwnRows, tortoise_sqlite.SqliteTransactionWrapper):
    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(SqliteTransactionWrapper(self))


class SqliteClient(_OwnRows, tortoise_sqlite.SqliteClient):
    _reader: sqlite3.Connection | None = None

    def _in_transaction(self) -> TransactionContext:
        return tortoise_sqlite.SqliteTransactionContext(SqliteTransactionWrapper(self), self._lock)

    def read_now(self, query: str, values: Sequence[Any]) -> list[Any] | None:
        """The rows of a short read, read at once on the calling thread by a connection of
        its own; None when it cannot be (an in-memory database, SQLite busy, an error: the
        caller then asks `execute_query`, which reports a real error as usual).

        Every other statement waits its turn for the one connection and a trip to its thread,
        and under load that wait is most of a short read's time (the coupon centre's visit
        took about 1 ms this way against 20 µs read here). In WAL mode a reader sees every
        committed write and never waits for a writer; it never sees a transaction still open,
        as on PostgreSQL. It never blocks: a busy database answers None at once.
        """
        if self.filename == ":memory:" or self._connection is None:
            return None
        try:
            if self._reader is None:
                self._reader = _open_reader(self.filename)
            rows = self._reader.execute(query, list(values)).fetchall()
        except sqlite3.Error:
            return None
        self.log.debug("%s: %s", query, values)  # as the shared connection logs its own
        return rows

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await super().close()


def _open_reader(filename: str) -> sqlite3.Connection:
    """A read-only connection of its own that never waits (closed again if it cannot be made
    read-only)."""
    reader = sqlite3.connect(filename, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        reader.row_factory = sqlite3.Row
        reader.execute("PRAGMA query_only = ON")
    except sqlite3.Error:
        reader.close()
        raise
    return reader


client_class = SqliteClient
