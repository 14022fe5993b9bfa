"""Migrations: they build the schema on an empty database, and they cover every model."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from tests.support.databases import recreate_pg_database
from tests.support.settings import PG_URL, base_settings, requires_postgres
from wxmember.core.config import build_config
from wxmember.core.db import (
    apply_migrations,
    model_changes,
    model_modules,
    open_database,
    tortoise_config,
)
from wxmember.core.models.tiers import Tier


def _expected_tables() -> set[str]:
    import importlib

    from tortoise.models import Model

    tables = set()
    for module_name in model_modules():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Model) and value is not Model:
                meta = getattr(value, "Meta", None)
                if meta is not None and not getattr(meta, "abstract", False):
                    tables.add(value._meta.db_table)
    return tables


class TestMigrations:
    async def test_models_have_no_change_without_a_migration(self, tmp_path: Path) -> None:
        config = build_config(base_settings(f"sqlite://{tmp_path / 'm.db'}", "http://x"))
        assert await model_changes(config) == []

    async def test_apply_on_empty_sqlite(self, tmp_path: Path) -> None:
        config = build_config(base_settings(f"sqlite://{tmp_path / 'empty.db'}", "http://x"))
        await apply_migrations(config)
        await apply_migrations(config)  # a second run finds nothing to do
        async with open_database(config):
            conn = Tortoise.get_connection("default")
            _, rows = await conn.execute_query(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
            _, indexes = await conn.execute_query(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
            # SQLite takes an unknown quoted column for a string constant: check each one.
            for index in indexes:
                _, columns = await conn.execute_query(f'PRAGMA index_info("{index["name"]}")')
                assert all(column["name"] for column in columns), index["name"]
        tables = {row["name"] for row in rows}
        assert _expected_tables() <= tables

    @requires_postgres
    async def test_apply_on_empty_postgres(self, tmp_path: Path) -> None:
        url = PG_URL.split("?")[0] + "_migration_check"
        await recreate_pg_database(url)
        config = build_config(base_settings(url, "http://x"))
        # SQLite first in the same process: the entry tier's INSERT must not keep its `?`.
        await apply_migrations(
            build_config(base_settings(f"sqlite://{tmp_path / 'first.db'}", "http://x"))
        )
        await apply_migrations(config)
        await apply_migrations(config)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        finally:
            await conn.close()
        assert _expected_tables() <= {row["tablename"] for row in rows}


class TestEntryTierMigration:
    async def test_an_empty_database_gets_one_entry_tier(self, tmp_path: Path) -> None:
        config = build_config(base_settings(f"sqlite://{tmp_path / 'fresh.db'}", "http://x"))
        await apply_migrations(config)
        async with open_database(config):
            rows = await Tier.all().values_list("name", "level", "growth_threshold")
        assert rows == [("普通会员", 0, 0)]

    async def test_an_existing_ladder_is_left_as_it_is(self, tmp_path: Path) -> None:
        config = build_config(base_settings(f"sqlite://{tmp_path / 'old.db'}", "http://x"))
        try:
            await migrate(config=tortoise_config(config), target="models.0001_initial")
        finally:
            await Tortoise.close_connections()
        async with open_database(config):
            await Tier.create(name="铜卡", level=0, growth_threshold=0)
            await Tier.create(name="银卡", level=1, growth_threshold=500)
        await apply_migrations(config)
        async with open_database(config):
            rows = await Tier.all().order_by("level").values_list("name", "level")
        assert rows == [("铜卡", 0), ("银卡", 1)]
