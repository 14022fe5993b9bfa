"""Hot reads on SQLite: read at once by a connection of their own, outside any transaction, and
still as consistent as PostgreSQL's (committed writes seen, open ones not)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from tests.support.settings import PG_URL, base_settings
from wxmember.core.config import build_config
from wxmember.core.db import open_database
from wxmember.core.prepared import read_rows
from wxmember.core.sqlite import SqliteClient

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's own read path")

_NOTES = "SELECT body FROM notes ORDER BY id"


def _now(conn: SqliteClient, sql: str) -> list[tuple[object, ...]] | None:
    rows = conn.read_now(sql, [])
    return None if rows is None else [tuple(row) for row in rows]


async def _bodies(conn: BaseDBAsyncClient) -> list[str]:
    return [row[0] for row in await read_rows(conn, _NOTES, [])]


@asynccontextmanager
async def _notes_database(url: str) -> AsyncIterator[SqliteClient]:
    """The database at `url`, open, with an empty `notes` table."""
    async with open_database(build_config(base_settings(url, "http://x"))):
        conn = Tortoise.get_connection("default")
        assert isinstance(conn, SqliteClient)
        await conn.execute_script("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        yield conn


class TestReadNow:
    async def test_committed_writes_are_seen_and_an_open_transaction_is_not(
        self, database_url: str
    ) -> None:
        async with _notes_database(database_url) as conn:
            await conn.execute_query("INSERT INTO notes (body) VALUES ('committed')")
            assert _now(conn, _NOTES) == [("committed",)]

            written, release = asyncio.Event(), asyncio.Event()

            async def hold_a_write_open() -> None:
                async with in_transaction() as tx:
                    await tx.execute_query("INSERT INTO notes (body) VALUES ('open')")
                    assert await _bodies(tx) == ["committed", "open"]  # its own write
                    written.set()
                    await release.wait()

            holder = asyncio.create_task(hold_a_write_open())
            await written.wait()
            # The one connection is the open transaction's until it ends: a read on it would
            # wait. This one is answered at once, from what was committed.
            assert _now(conn, _NOTES) == [("committed",)]
            assert await _bodies(conn) == ["committed"]
            release.set()
            await holder
            assert await _bodies(conn) == ["committed", "open"]

    async def test_reads_outside_a_transaction_do_not_use_the_shared_connection(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with _notes_database(database_url) as conn:

            async def refused(*_: object) -> None:
                raise AssertionError("read through the shared connection")

            monkeypatch.setattr(conn, "execute_query", refused)
            assert await _bodies(conn) == []

    async def test_a_broken_read_fails_as_any_statement_does(self, database_url: str) -> None:
        async with _notes_database(database_url) as conn:
            assert _now(conn, "SELECT * FROM no_such_table") is None
            with pytest.raises(OperationalError, match="no_such_table"):
                await read_rows(conn, "SELECT * FROM no_such_table", [])

    async def test_an_in_memory_database_reads_through_its_one_connection(self) -> None:
        async with _notes_database("sqlite://:memory:") as conn:
            await conn.execute_query("INSERT INTO notes (body) VALUES ('kept in memory')")
            assert _now(conn, _NOTES) is None  # another connection has another database
            assert await _bodies(conn) == ["kept in memory"]

    async def test_closing_the_database_closes_the_reader(self, database_url: str) -> None:
        async with _notes_database(database_url) as conn:
            assert _now(conn, "SELECT 1") == [(1,)]
            reader = conn._reader
            assert reader is not None
        assert conn._reader is None
        with pytest.raises(Exception, match="closed"):
            reader.execute("SELECT 1")

    async def test_a_reader_that_cannot_be_made_read_only_is_closed_and_not_kept(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        opened: list[_RefusesPragmas] = []

        def connect(*args: Any, **kwargs: Any) -> _RefusesPragmas:
            opened.append(_RefusesPragmas(real_connect(*args, **kwargs)))
            return opened[-1]

        real_connect = sqlite3.connect
        async with _notes_database(database_url) as conn:
            monkeypatch.setattr(sqlite3, "connect", connect)
            assert _now(conn, _NOTES) is None
            assert await _bodies(conn) == []  # through the shared connection instead
            monkeypatch.undo()

            assert conn._reader is None
            assert [reader.closed for reader in opened] == [True, True]  # one per read
            assert _now(conn, _NOTES) == []  # the next read opens a reader that works


class _RefusesPragmas:
    """A connection whose `PRAGMA` fails, as one on a read-only or damaged file may."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.closed = False
        self.row_factory: object = None

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("PRAGMA"):
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return self.connection.execute(sql, *args)

    def close(self) -> None:
        self.closed = True
        self.connection.close()
