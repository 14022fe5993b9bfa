"""The PostgreSQL pool: a connection given back costs no reset round trip, and is still clean."""

from __future__ import annotations

import asyncio
import contextlib

from tortoise import Tortoise
from tortoise.context import TortoiseContext, require_context
from tortoise.transactions import in_transaction

from tests.support.databases import recreate_pg_database
from tests.support.settings import PG_URL, base_settings, requires_postgres
from wxmember.core.config import Config, build_config
from wxmember.core.db import apply_migrations, open_database
from wxmember.core.models.tiers import Tier


async def _one_connection_config() -> Config:
    url = PG_URL.split("?")[0] + "_pool_check"
    await recreate_pg_database(url)
    settings = base_settings(url, "http://x")
    settings["database"]["pool_max"] = 1
    config = build_config(settings)
    await apply_migrations(config)
    return config


@requires_postgres
class TestPool:
    async def test_a_connection_given_back_is_not_reset(self) -> None:
        # The default reset ends with RESET ALL, which would undo this setting.
        async with open_database(await _one_connection_config()):
            conn = Tortoise.get_connection("default")
            await conn.execute_script("SET application_name TO 'kept-between-uses'")
            _, rows = await conn.execute_query("SHOW application_name")
            assert rows[0]["application_name"] == "kept-between-uses"

    async def test_a_transaction_left_open_is_rolled_back(self) -> None:
        async with open_database(await _one_connection_config()):
            conn = Tortoise.get_connection("default")
            await conn.execute_query("SELECT 1")  # the pool opens with the first statement
            pool = conn._pool
            connection = await pool.acquire()
            await connection.execute("BEGIN")
            await connection.execute("CREATE TABLE left_open (id int)")
            await pool.release(connection)
            again = await pool.acquire()
            try:
                assert not again.is_in_transaction()
                assert await again.fetchval("SELECT to_regclass('left_open')") is None
            finally:
                await pool.release(again)


class TestGivingUpTheDatabase:
    """A close cut short (the shutdown bound) still lets the process open the database again."""

    async def test_a_close_cut_short_leaves_the_database_free_to_open(
        self, database_url: str
    ) -> None:
        config = build_config(base_settings(database_url, "http://x"))
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold_a_transaction() -> None:
            async with in_transaction():
                await Tier.all().count()
                held.set()
                await release.wait()

        opened: list[TortoiseContext] = []

        async def serve() -> None:
            # Its own task, as an application's start-up and clean-up are.
            async with open_database(config):
                opened.append(require_context())
                holder = asyncio.create_task(hold_a_transaction())
                await held.wait()
                try:
                    await asyncio.Event().wait()
                finally:
                    release.set()
                    with contextlib.suppress(Exception):
                        await holder

        serving = asyncio.create_task(serve())
        await held.wait()
        serving.cancel()
        await asyncio.sleep(0)
        serving.cancel()  # the close is cut short, as the shutdown bound does
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        try:
            async with open_database(config):
                assert await Tier.all().count() >= 1
        finally:
            await opened[0].close_connections()  # what the cut-short close left open
