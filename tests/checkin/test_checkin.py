"""`POST /api/v1/checkins`: once per local day, streak bonuses on a cycle."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.checkin.daily import _days, check_in
from tests.checkin.kit import set_checkin_rules
from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from tests.support.settings import requires_postgres
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin
from wxmember.core.models.points import PointsEntry

URL = "/api/v1/checkins"


class TestCheckIn:
    async def test_first_check_in(self, client: TestClient, services: Services) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        response = await client.post(URL, headers=auth_headers(services, member))
        assert response.status == 201
        assert await response.json() == {
            "day": "2025-03-10",
            "points": 5,
            "base_points": 5,
            "bonus_points": 0,
            "streak": 1,
            "cycle_day": 1,
            "made_up": False,
            "balance": 5,
            "tomorrow": {"date": "2025-03-11", "streak": 2, "points": 5, "bonus_points": 0},
        }
        entry = await PointsEntry.get(member_id=member.id)
        assert (entry.reason, entry.reference) == ("checkin", "checkin:2025-03-10")
        await assert_ledger_consistent(member.id)

    async def test_streak_bonuses_follow_the_cycle(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 1, 8, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        days = []
        for _ in range(16):
            days.append(await (await client.post(URL, headers=headers)).json())
            clock.advance(days=1)
        assert [day["points"] for day in days] == [5, 5, 10, 5, 5, 5, 25] * 2 + [5, 5]
        assert [day["cycle_day"] for day in days] == [1, 2, 3, 4, 5, 6, 7] * 2 + [1, 2]
        assert [day["streak"] for day in days] == list(range(1, 17))
        assert days[1]["tomorrow"] == {
            "date": "2025-03-03",
            "streak": 3,
            "points": 10,
            "bonus_points": 5,
        }
        assert days[-1]["balance"] == 2 * 60 + 10
        await assert_ledger_consistent(member.id)

    async def test_a_missed_day_restarts_the_streak(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 1, 8, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await client.post(URL, headers=headers)
        clock.advance(days=1)
        await client.post(URL, headers=headers)
        clock.advance(days=2)
        body = await (await client.post(URL, headers=headers)).json()
        assert (body["streak"], body["points"]) == (1, 5)

    async def test_the_streak_goes_on_into_the_next_month(
        self, client: TestClient, services: Services
    ) -> None:
        # this month's last day and the next one's first: on PostgreSQL, rows of two partitions
        today = date.today()
        first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = first_of_next - timedelta(days=1)
        clock = freeze(services, local(last.year, last.month, last.day, 21, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        assert (await (await client.post(URL, headers=headers)).json())["streak"] == 1
        clock.advance(days=1)

        body = await (await client.post(URL, headers=headers)).json()
        again = await client.post(URL, headers=headers)

        assert (body["day"], body["streak"]) == (first_of_next.isoformat(), 2)
        error = (await again.json())["error"]
        assert (error["code"], error["details"]["streak"]) == ("already_checked_in", 2)

    @requires_postgres
    async def test_the_days_read_is_planned_once_per_connection(self, services: Services) -> None:
        """The two days name the partition key: sent as text and cast in the statement, they are
        pruned when it starts, so PostgreSQL keeps one generic plan instead of planning each
        check-in (`partition_key`)."""
        member = await create_member()
        today = date.today()
        async with in_transaction() as conn:
            for n in range(8):
                day = today - timedelta(days=n)
                await _days(conn, member.id, day, day - timedelta(days=1))
            _, plans = await conn.execute_query(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                'WHERE statement LIKE \'%FROM "checkins" WHERE "member_id"%\' '
                "AND statement NOT LIKE '%pg_prepared_statements%'"
            )

        assert [(row[0] > 0, row[1] <= 5) for row in plans] == [(True, True)]

    async def test_second_call_is_409_with_todays_result(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        first = await (await client.post(URL, headers=headers)).json()
        clock.advance(hours=5)
        again = await client.post(URL, headers=headers)
        assert again.status == 409
        error = (await again.json())["error"]
        assert error["code"] == "already_checked_in"
        assert error["details"] == first
        assert (await Member.get(id=member.id)).points_balance == 5

    async def test_twenty_at_once_give_one(self, client: TestClient, services: Services) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        responses = await asyncio.gather(*(client.post(URL, headers=headers) for _ in range(20)))
        statuses = sorted(response.status for response in responses)
        assert statuses == [201] + [409] * 19
        for response in responses:
            if response.status == 409:
                assert await error_code(response) == "already_checked_in"
        assert await Checkin.filter(member_id=member.id).count() == 1
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 5

    async def test_the_database_refuses_a_second_row(self, services: Services) -> None:
        member = await create_member()
        day = date(2025, 3, 10)
        await Checkin.create(member_id=member.id, day=day, streak=1, created_at=local(2025, 3, 10))
        with pytest.raises(IntegrityError):
            await Checkin.create(
                member_id=member.id, day=day, streak=1, created_at=local(2025, 3, 10)
            )

    async def test_the_day_turns_at_local_midnight(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, datetime.fromisoformat("2025-03-10T15:59:59+00:00"))
        member = await create_member()
        headers = auth_headers(services, member)
        late = await (await client.post(URL, headers=headers)).json()
        assert late["day"] == "2025-03-10"
        clock.set(datetime.fromisoformat("2025-03-10T16:00:00+00:00"))
        early = await client.post(URL, headers=headers)
        assert early.status == 201
        body = await early.json()
        assert (body["day"], body["streak"]) == ("2025-03-11", 2)
        days = (
            await Checkin.filter(member_id=member.id).order_by("day").values_list("day", flat=True)
        )
        assert days == [date(2025, 3, 10), date(2025, 3, 11)]

    async def test_needs_a_card(self, client: TestClient, services: Services) -> None:
        member = await create_member(with_card=False)
        response = await client.post(URL, headers=auth_headers(services, member))
        assert response.status == 409
        assert await error_code(response) == "card_required"

    async def test_paused_by_operators(self, client: TestClient, services: Services) -> None:
        await set_checkin_rules(enabled=False)
        member = await create_member()
        response = await client.post(URL, headers=auth_headers(services, member))
        assert response.status == 409
        assert await error_code(response) == "checkin_disabled"
        assert not await Checkin.exists(member_id=member.id)

    async def test_zero_points_day_still_counts(
        self, client: TestClient, services: Services
    ) -> None:
        await set_checkin_rules(base_points=0, bonuses=[])
        member = await create_member()
        response = await client.post(URL, headers=auth_headers(services, member))
        assert response.status == 201
        assert (await response.json())["points"] == 0
        assert not await PointsEntry.exists(member_id=member.id)


class TestCheckInGrowth:
    async def test_growth_by_config_when_the_rules_allow(self, services: Services) -> None:
        services.config = services.config.replace(tiers={"checkin_growth": 3})
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        await check_in(services, member)
        assert (await Member.get(id=member.id)).growth_total == 3

    async def test_no_growth_when_the_rules_say_no(self, services: Services) -> None:
        services.config = services.config.replace(tiers={"checkin_growth": 3})
        await set_checkin_rules(adds_growth=False)
        member = await create_member()
        result = await check_in(services, member)
        assert result.points == 5
        assert (await Member.get(id=member.id)).growth_total == 0
