"""Test databases: the schema template, fresh PostgreSQL databases, truncation between tests."""

from __future__ import annotations

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


async def truncate_pg(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        if names:
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
