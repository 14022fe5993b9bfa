"""A read replica (`database.read_url`) for the reports: the dashboard and the reminder
statistics read there, every other read and every write go to the primary.

The replica here is a database of its own with the schema and none of the primary's rows, the
way a replica looks while it is behind: what the reports show proves where they read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from handlers.dashboard.overview import period, today_figures
from handlers.reminders.reports import delivery_stats, stats_for_day
from tests.factories import create_member
from tests.support.databases import build_schema, recreate_pg_database
from tests.support.settings import PG_URL
from wxmember.core.config import ConfigError, build_config
from wxmember.core.context import Services
from wxmember.core.db import REPLICA, reading_connection, reports
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.reminders import ReminderDelivery, ReminderRule


async def card_holder(services: Services) -> Member:
    """A member who opened a card just now, written to the primary."""
    member = await create_member()
    await Member.filter(id=member.id).update(card_opened_at=services.clock.now())
    return member


@pytest.fixture
async def replica_url(schema_template: str, tmp_path: Path) -> str:
    if PG_URL:
        url = PG_URL.rsplit("/", 1)[0] + "/wxmember_test_replica"
        await recreate_pg_database(url)
        await build_schema(url)
        return url
    path = tmp_path / "replica.db"
    shutil.copyfile(schema_template, path)
    return f"sqlite://{path}"


class TestWithAReplica:
    @pytest.fixture
    def settings(self, settings: dict[str, Any], replica_url: str) -> dict[str, Any]:
        settings["database"]["read_url"] = replica_url
        return settings

    async def test_the_dashboard_reads_the_replica(self, services: Services) -> None:
        member = await card_holder(services)  # a write: to the primary
        assert await Member.filter(id=member.id).exists()  # an ordinary read: the primary
        assert (await today_figures(services)).members == 0
        assert (await period(services, 30)).figures[-1].members == 0  # type: ignore[union-attr]

    async def test_reminder_statistics_read_the_replica(self, services: Services) -> None:
        member = await create_member()
        rule = await ReminderRule.create(
            name="生日祝福",
            kind="birthday",
            send_time="09:00",
            channel="miniapp_subscribe",
            template_id="tpl-birthday",
        )
        now = services.clock.now()
        today = local_today(services)
        await ReminderDelivery.create(
            rule=rule,
            member=member,
            occasion=f"birthday:{today.year}",
            day=today,
            channel="miniapp_subscribe",
            template_id="tpl-birthday",
            state="sent",
            created_at=now,
            updated_at=now,
        )
        assert [row["rule_id"] for row in await delivery_stats(today)] == [rule.id]
        assert (await stats_for_day(services, today))["rules"] == []

    async def test_hand_written_reads_follow_the_reports(self, services: Services) -> None:
        await create_member()
        with reports():
            assert reading_connection() is Tortoise.get_connection(REPLICA)
            _, rows = await reading_connection().execute_query("SELECT COUNT(*) AS n FROM members")
            assert rows[0]["n"] == 0
        assert reading_connection() is Tortoise.get_connection("default")


class TestWithoutOne:
    async def test_the_reports_read_the_primary(self, services: Services) -> None:
        await card_holder(services)
        assert (await today_figures(services)).members == 1
        with reports():
            assert await Member.all().count() == 1


class TestTheSetting:
    def test_a_replica_of_another_kind_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="same kind"):
            build_config({"database": {"url": "sqlite://a.db", "read_url": "postgres://x@h/db"}})

    def test_an_unknown_scheme_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="read_url"):
            build_config({"database": {"url": "sqlite://a.db", "read_url": "mysql://x@h/db"}})
