"""Tortoise's SQLite client, counting the rows a statement itself changed.

Tortoise's own client answers a write with the difference of the connection's
`total_changes`, which also counts what triggers wrote: an UPDATE of one member that a trigger
follows with an UPDATE of their wallet card (migration 0017) would report two rows, and every
check of "exactly one row changed" (the ledger's, a conditional claim's) would fail on SQLite
only. Here the count is the cursor's `rowcount` (SQLite's `changes()`: the statement's own
rows), as PostgreSQL reports it. Used as the engine of every SQLite connection
(`wxmember.core.db`).
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
    def _in_transaction(self) -> TransactionContext:
        return tortoise_sqlite.SqliteTransactionContext(SqliteTransactionWrapper(self), self._lock)


client_class = SqliteClient
