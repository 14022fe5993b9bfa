"""Expiry policies at their edges: month ends, leap years, the last second of a year."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from handlers.points.lots import add_months, expiry_for
from tests.factories import auth_headers, create_member
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.points import NEVER_EXPIRES, PointsLot


def _policy(config: Config, policy: str, months: int = 12) -> Config:
    return config.replace(points={"expiry_policy": policy, "rolling_months": months})


class TestRollingPolicy:
    @pytest.mark.parametrize(
        ("earned", "months", "last_day"),
        [
            (date(2025, 8, 31), 6, date(2026, 2, 28)),
            (date(2023, 8, 31), 6, date(2024, 2, 29)),
            (date(2024, 2, 29), 12, date(2025, 2, 28)),
            (date(2024, 2, 29), 48, date(2028, 2, 29)),
            (date(2025, 1, 31), 1, date(2025, 2, 28)),
            (date(2025, 3, 31), 1, date(2025, 4, 30)),
            (date(2025, 12, 15), 1, date(2026, 1, 15)),
            (date(2025, 5, 10), 120, date(2035, 5, 10)),
        ],
    )
    def test_month_arithmetic(self, earned: date, months: int, last_day: date) -> None:
        assert add_months(earned, months) == last_day

    @pytest.mark.parametrize(
        ("earned_at", "months", "expires_at"),
        [
            (local(2025, 8, 31, 10, 0), 6, local(2026, 2, 28, 23, 59, 59)),
            (local(2023, 8, 31, 23, 59, 59), 6, local(2024, 2, 29, 23, 59, 59)),
            (local(2025, 3, 1, 0, 0, 0), 12, local(2026, 3, 1, 23, 59, 59)),
        ],
    )
    def test_expires_at_the_end_of_the_local_day(
        self, config: Config, earned_at: datetime, months: int, expires_at: datetime
    ) -> None:
        assert expiry_for(_policy(config, "rolling", months), earned_at) == expires_at

    def test_local_day_not_server_day(self, config: Config) -> None:
        # 2025-08-31 16:30 UTC is already Sep 1 in Shanghai.
        earned_at = datetime.fromisoformat("2025-08-31T16:30:00+00:00")
        assert expiry_for(_policy(config, "rolling", 6), earned_at) == local(2026, 3, 1, 23, 59, 59)

    async def test_points_usable_until_the_last_second(self, services: Services) -> None:
        services.config = _policy(services.config, "rolling", 6)
        clock = freeze(services, local(2025, 8, 31, 12, 0))
        member = await create_member()
        await points.earn(services, member.id, 100, reason="r", idempotency_key="e")
        clock.set(local(2026, 2, 28, 23, 59, 59))
        assert await points.expire_member(services, member.id) == 0
        await points.spend(services, member.id, 1, reason="r", idempotency_key="s")
        clock.advance(seconds=1)
        assert await points.expire_member(services, member.id) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 0


class TestYearEndPolicy:
    @pytest.mark.parametrize(
        ("earned_at", "expires_at"),
        [
            (local(2024, 1, 1, 0, 0, 0), local(2025, 12, 31, 23, 59, 59)),
            (local(2024, 12, 31, 23, 59, 59), local(2025, 12, 31, 23, 59, 59)),
            (local(2025, 1, 1, 0, 0, 0), local(2026, 12, 31, 23, 59, 59)),
            (local(2024, 2, 29, 12, 0), local(2025, 12, 31, 23, 59, 59)),
        ],
    )
    def test_end_of_the_next_local_year(
        self, config: Config, earned_at: datetime, expires_at: datetime
    ) -> None:
        assert expiry_for(_policy(config, "year_end"), earned_at) == expires_at

    def test_new_year_in_shanghai_before_utc(self, config: Config) -> None:
        # 2024-12-31 16:00:00 UTC is 2025-01-01 00:00:00 in Shanghai: a 2025 earning.
        just_before = datetime.fromisoformat("2024-12-31T15:59:59+00:00")
        new_year = datetime.fromisoformat("2024-12-31T16:00:00+00:00")
        assert expiry_for(_policy(config, "year_end"), just_before) == local(
            2025, 12, 31, 23, 59, 59
        )
        assert expiry_for(_policy(config, "year_end"), new_year) == local(2026, 12, 31, 23, 59, 59)

    async def test_expire_on_the_first_second_of_the_year(self, services: Services) -> None:
        services.config = _policy(services.config, "year_end")
        clock = freeze(services, local(2024, 12, 31, 23, 59, 59))
        member = await create_member()
        await points.earn(services, member.id, 70, reason="r", idempotency_key="old")
        clock.advance(seconds=1)
        await points.earn(services, member.id, 30, reason="r", idempotency_key="new")
        clock.set(local(2025, 12, 31, 23, 59, 59))
        assert await points.expire_due_lots(services) == 0
        clock.set(local(2026, 1, 1, 0, 0, 0))
        assert await points.expire_due_lots(services) == 1
        assert (await Member.get(id=member.id)).points_balance == 30
        clock.set(local(2027, 1, 1, 0, 0, 0))
        assert await points.expire_due_lots(services) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 0


class TestNeverPolicy:
    async def test_lots_never_expire_and_are_spent_last(self, services: Services) -> None:
        services.config = _policy(services.config, "never")
        clock = freeze(services, local(2025, 1, 1, 9, 0))
        member = await create_member()
        forever = await points.earn(services, member.id, 50, reason="r", idempotency_key="a")
        await points.earn(
            services,
            member.id,
            50,
            reason="r",
            idempotency_key="b",
            expires_at=local(2030, 1, 1, 0, 0),
        )
        assert (await PointsLot.get(entry_id=forever.id)).expires_at == NEVER_EXPIRES
        clock.advance(days=365 * 20)
        assert await points.expire_due_lots(services) == 1
        await points.spend(services, member.id, 20, reason="r", idempotency_key="s")
        assert (await PointsLot.get(entry_id=forever.id)).remaining == 30
        assert (await assert_ledger_consistent(member.id)).points_balance == 30

    async def test_summary_shows_no_expiry(self, client: TestClient, services: Services) -> None:
        services.config = _policy(services.config, "never")
        member = await create_member()
        await points.earn(services, member.id, 50, reason="r", idempotency_key="a")
        response = await client.get("/api/v1/points", headers=auth_headers(services, member))
        body = await response.json()
        assert body["balance"] == 50
        assert body["expiring"]["items"] == []
        ledger = await client.get("/api/v1/points/ledger", headers=auth_headers(services, member))
        assert (await ledger.json())["items"][0]["expires_at"] is None
