"""Test databases: the schema template, fresh PostgreSQL databases, emptied between tests."""

from __future__ import annotations

import importlib
import json

import asyncpg

from tests.support.settings import base_settings
from wxmember.core.config import build_config
from wxmember.core.db import apply_migrations


async def build_schema(database_url: str) -> None:
    """The schema the way production gets it: by applying the migrations."""
    await apply_migrations(build_config(base_settings(database_url, "http://127.0.0.1:9")))


def _pg_admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base + "/postgres", name.split("?")[0]


async def recreate_pg_database(url: str) -> None:
    admin_url, name = _pg_admin_url(url)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def empty_pg(url: str) -> None:
    """Empty every table a test wrote to and restart every sequence.

    Rows are deleted, from the tables that hold any, with foreign keys unchecked (all their rows
    go): `TRUNCATE` costs a new file for each table and index, several seconds a hundred tests,
    and most tests touch a handful of the schema's tables.
    """
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if not tables:
            return
        holding_rows = " UNION ALL ".join(
            f"SELECT '{name}' AS name WHERE EXISTS (SELECT 1 FROM \"{name}\")"
            for name in (row["tablename"] for row in tables)
        )
        used = [f'"{row["name"]}"' for row in await conn.fetch(holding_rows)]
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for name in used:
                await conn.execute(f"DELETE FROM {name}")
            await conn.execute(
                "SELECT setval(oid, 1, false) FROM pg_class"
                " WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
            )
            await _insert_installed_rows(conn)
    finally:
        await conn.close()


async def _insert_installed_rows(conn: asyncpg.Connection) -> None:
    """The rows the migrations install (the entry tier), so that every test starts as a fresh
    installation does, on PostgreSQL as on a copy of the SQLite template."""
    entry = importlib.import_module("wxmember.core.migrations.0002_entry_tier").ENTRY_TIER
    columns = [*entry, "created_at", "updated_at"]
    values = [json.dumps(v) if isinstance(v, list) else v for v in entry.values()]
    places = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    await conn.execute(
        f"INSERT INTO tiers ({', '.join(columns)}) VALUES ({places}, now(), now())", *values
    )
