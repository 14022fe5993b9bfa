"""The benchmark database: a fresh one per run, migrated by the service's own command, seeded.

SQLite lives in the run's temporary directory. PostgreSQL is dropped and created again (the URL
names a database of its own, never a shared one). The schema is the migrations' alone
(`wxmember migrate`), as in production.
"""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis


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
