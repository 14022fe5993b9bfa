"""Migration 0012: the stores the till named as free text before become store records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from tests.support.settings import base_settings
from wxmember.core.config import build_config
from wxmember.core.db import apply_migrations, open_database, tortoise_config
from wxmember.core.models import Member
from wxmember.core.models.pos import Purchase
from wxmember.core.models.stores import Store


class TestStoresFromPurchases:
    async def test_each_store_text_becomes_an_open_store(self, tmp_path: Path) -> None:
        config = build_config(base_settings(f"sqlite://{tmp_path / 'old.db'}", "http://x"))
        try:
            await migrate(config=tortoise_config(config), target="models.0011_referrals")
        finally:
            await Tortoise.close_connections()
        now = datetime(2025, 1, 1, tzinfo=UTC)
        async with open_database(config):
            member = await Member.create(openid="o-1")
            for n, store in enumerate(["静安店", "SH-01", "静安店", None]):
                await Purchase.create(
                    order_no=f"O-{n}",
                    member_id=member.id,
                    amount_fen=100,
                    store=store,
                    created_at=now,
                )
        await apply_migrations(config)
        async with open_database(config):
            rows = await Store.all().order_by("code").values_list("code", "name", "active")
        assert rows == [("SH-01", "SH-01", True), ("静安店", "静安店", True)]
