"""The benchmark database: a fresh one per run, migrated by the service's own command, seeded.

SQLite lives in the run's temporary directory. PostgreSQL is dropped and created again (the URL
names a database of its own, never a shared one). When the migrations do not yet build every
model's table, the missing tables are created from the models and the report says so.
"""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis
from tortoise import Tortoise

from wxmember.config import Config


def _admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    if not name or name in ("postgres", "template0", "template1"):
        raise ValueError(f"the benchmark needs a database of its own, not {name or 'none'!r}")
    return base + "/postgres", name


async def recreate_postgres(url: str) -> None:
    admin_url, name = _admin_url(url)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def postgres_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def flush_redis(url: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _existing_tables(config: Config) -> set[str]:
    conn = Tortoise.get_connection("default")
    if config.database.is_sqlite:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        query = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    _, rows = await conn.execute_query(query)
    return {row["name"] for row in rows}


async def complete_schema(config: Config) -> str:
    """Create model tables the migrations left out; describe how the schema was built.

    Runs with Tortoise open on the benchmark database.
    """
    expected = {model._meta.db_table for model in Tortoise.apps["models"].values()}
    missing = expected - await _existing_tables(config)
    if not missing:
        return "migrations"
    await Tortoise.generate_schemas(safe=True)
    return f"migrations, then {len(missing)} of {len(expected)} tables from the models"
