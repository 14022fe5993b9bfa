"""Where a run goes and how its database is made: a database of its own, the real migrations.

The PostgreSQL database named by the URL is dropped and created again on every run, so the URL
must name a database of its own: `postgres` and the `template*` databases are refused.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from wxmember.core.config import Config, build_config
from wxmember.core.db import apply_migrations

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:55432/wxmember_jobs_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:56379/12"
REPORTS_DIR = Path(__file__).resolve().parent.parent / "reports"
BRAND_TIMEZONE = "Asia/Shanghai"
# Nothing listens there: the jobs measured here never call WeChat.
UNUSED_WECHAT = "http://127.0.0.1:9"
PLAN_CACHE_MODES = ("auto", "force_custom_plan", "force_generic_plan")


@dataclass(frozen=True)
class RunSettings:
    """Where one benchmark run reads and writes."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    reports_dir: Path = REPORTS_DIR
    tracemalloc: bool = False
    random_seed: int = 20261125
    progress: bool = True
    plan_cache_mode: str | None = None
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def database_name(url: str) -> str:
    """The database a URL names; refuses names that are not a benchmark's own."""
    if not url.startswith(("postgres://", "postgresql://")):
        raise ValueError("the job benchmarks need a postgres:// database URL")
    name = url.rpartition("/")[2].split("?")[0]
    if not name or name == "postgres" or name.startswith("template"):
        raise ValueError(f"the benchmark needs a database of its own, not {name or 'none'!r}")
    return name


def admin_url(url: str) -> str:
    """The same server's `postgres` database, to drop and create the benchmark's."""
    database_name(url)
    return url.rpartition("/")[0] + "/postgres"


def config_settings(database_url: str, redis_url: str) -> dict[str, dict[str, Any]]:
    """The service configuration of a run, with fresh keys (a child process rebuilds it)."""
    return {
        "database": {"url": database_url, "pool_max": 5},
        "redis": {"url": redis_url},
        "brand": {"name": "基准品牌", "timezone": BRAND_TIMEZONE},
        "miniapp": {"appid": "wxbenchminiapp001", "secret": secrets.token_hex(16)},
        "official": {"appid": "wxbenchofficial01", "secret": secrets.token_hex(16)},
        "wechat": {"api_base": UNUSED_WECHAT, "timeout_seconds": 2.0, "network_retries": 0},
        "security": {
            "secret_key": secrets.token_urlsafe(32),
            "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        },
        "scheduler": {"enabled": False},
    }


async def recreate_database(url: str) -> None:
    """Drop the run's database (closing its sessions) and create it empty."""
    name = database_name(url)
    conn = await asyncpg.connect(admin_url(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def set_plan_cache_mode(conn: asyncpg.Connection, url: str, mode: str | None) -> None:
    """Make new sessions of the run's database (the job's) plan with `mode`; None: the server's."""
    if mode is None:
        return
    if mode not in PLAN_CACHE_MODES:
        raise ValueError(f"plan_cache_mode must be one of {', '.join(PLAN_CACHE_MODES)}")
    await conn.execute(f'ALTER DATABASE "{database_name(url)}" SET plan_cache_mode = {mode}')


async def fresh_schema(settings: dict[str, dict[str, Any]]) -> tuple[Config, float]:
    """A new database with the schema the migrations build; the config and seconds taken."""
    config = build_config(settings)
    started = time.perf_counter()
    await recreate_database(config.database.url)
    await apply_migrations(config)
    return config, time.perf_counter() - started
