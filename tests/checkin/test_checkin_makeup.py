"""`POST /api/v1/checkins/makeup`: a missed day of this month, limited, maybe priced."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from tests.checkin.kit import set_checkin_rules
from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin
from wxmember.core.models.points import EntryKind, PointsEntry

URL = "/api/v1/checkins"
MAKEUP = "/api/v1/checkins/makeup"


async def _check_in_on(
    client: TestClient, clock: FrozenClock, headers: dict[str, str], *days: int
) -> None:
    for day in days:
        clock.set(local(2025, 3, day, 9, 0))
        assert (await client.post(URL, headers=headers)).status == 201


async def _streaks(member_id: int) -> dict[int, int]:
    rows = await Checkin.filter(member_id=member_id).order_by("day")
    return {row.day.day: row.streak for row in rows}


class TestMakeup:
    async def test_filling_a_gap_joins_the_runs(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 1, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await _check_in_on(client, clock, headers, 1, 2, 4, 5, 6)
        assert await _streaks(member.id) == {1: 1, 2: 2, 4: 1, 5: 2, 6: 3}
        clock.set(local(2025, 3, 6, 20, 0))
        response = await client.post(MAKEUP, json={"date": "2025-03-03"}, headers=headers)
        assert response.status == 201
        body = await response.json()
        assert body["day"] == "2025-03-03"
        assert (body["streak"], body["current_streak"], body["made_up"]) == (3, 6, True)
        assert (body["points"], body["bonus_points"], body["price_points"]) == (5, 0, 0)
        assert body["makeup_left"] == 1
        assert body["tomorrow"] is None
        assert await _streaks(member.id) == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}
        clock.set(local(2025, 3, 7, 9, 0))
        seventh = await (await client.post(URL, headers=headers)).json()
        assert (seventh["streak"], seventh["bonus_points"]) == (7, 20)
        await assert_ledger_consistent(member.id)

    async def test_gap_before_yesterday_keeps_todays_run(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 1, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await _check_in_on(client, clock, headers, 2, 5, 6)
        clock.set(local(2025, 3, 6, 21, 0))
        await client.post(MAKEUP, json={"date": "2025-03-03"}, headers=headers)
        assert await _streaks(member.id) == {2: 1, 3: 2, 5: 1, 6: 2}

    async def test_first_of_the_month_continues_last_month(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 2, 27, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        for _ in range(2):
            await client.post(URL, headers=headers)
            clock.advance(days=1)
        clock.set(local(2025, 3, 2, 9, 0))
        await client.post(URL, headers=headers)
        response = await client.post(MAKEUP, json={"date": "2025-03-01"}, headers=headers)
        assert (await response.json())["current_streak"] == 4

    async def test_price_is_spent_through_the_ledger(
        self, client: TestClient, services: Services
    ) -> None:
        await set_checkin_rules(makeup_price_points=20)
        clock = freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        await points.earn(services, member.id, 25, reason="gift", idempotency_key="g")
        headers = auth_headers(services, member)
        response = await client.post(MAKEUP, json={"date": "2025-03-05"}, headers=headers)
        assert response.status == 201
        body = await response.json()
        assert (body["price_points"], body["points"], body["balance"]) == (20, 5, 10)
        fee = await PointsEntry.get(member_id=member.id, kind=EntryKind.SPEND)
        assert (fee.amount, fee.reason, fee.reference) == (
            -20,
            "checkin_makeup_fee",
            "checkin:2025-03-05",
        )
        clock.advance(minutes=1)
        short = await client.post(MAKEUP, json={"date": "2025-03-06"}, headers=headers)
        assert short.status == 409
        assert await error_code(short) == "insufficient_points"
        assert not await Checkin.exists(member_id=member.id, day=date(2025, 3, 6))
        assert (await assert_ledger_consistent(member.id)).points_balance == 10

    async def test_a_retried_makeup_is_refused_and_charged_once(
        self, client: TestClient, services: Services
    ) -> None:
        await set_checkin_rules(makeup_price_points=10)
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        await points.earn(services, member.id, 50, reason="gift", idempotency_key="g")
        headers = auth_headers(services, member)
        first = await client.post(MAKEUP, json={"date": "2025-03-05"}, headers=headers)
        again = await client.post(MAKEUP, json={"date": "2025-03-05"}, headers=headers)
        assert (first.status, again.status) == (201, 409)
        assert await error_code(again) == "already_checked_in"
        assert (await assert_ledger_consistent(member.id)).points_balance == 50 - 10 + 5

    async def test_monthly_limit(self, client: TestClient, services: Services) -> None:
        clock = freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        for day in ("2025-03-01", "2025-03-02"):
            response = await client.post(MAKEUP, json={"date": day}, headers=headers)
            assert response.status == 201
        third = await client.post(MAKEUP, json={"date": "2025-03-03"}, headers=headers)
        assert third.status == 409
        assert await error_code(third) == "makeup_limit_reached"
        clock.set(local(2025, 4, 10, 9, 0))
        next_month = await client.post(MAKEUP, json={"date": "2025-04-01"}, headers=headers)
        assert next_month.status == 201

    async def test_limit_zero_means_no_makeups(
        self, client: TestClient, services: Services
    ) -> None:
        await set_checkin_rules(makeup_per_month=0)
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        response = await client.post(
            MAKEUP, json={"date": "2025-03-01"}, headers=auth_headers(services, member)
        )
        assert await error_code(response) == "makeup_limit_reached"

    async def test_concurrent_makeups_respect_the_limit(
        self, client: TestClient, services: Services
    ) -> None:
        import asyncio

        freeze(services, local(2025, 3, 20, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        responses = await asyncio.gather(
            *(
                client.post(MAKEUP, json={"date": f"2025-03-{day:02d}"}, headers=headers)
                for day in range(1, 11)
            )
        )
        assert sorted(response.status for response in responses) == [201] * 2 + [409] * 8
        assert await Checkin.filter(member_id=member.id, made_up=True).count() == 2

    @pytest.mark.parametrize(
        ("day", "status", "code"),
        [
            ("2025-03-11", 400, "makeup_future_day"),
            ("2025-03-10", 409, "makeup_today"),
            ("2025-02-28", 409, "makeup_other_month"),
            ("2024-03-05", 409, "makeup_other_month"),
            ("2025-03-04", 409, "already_checked_in"),
        ],
    )
    async def test_refused_days(
        self, client: TestClient, services: Services, day: str, status: int, code: str
    ) -> None:
        clock = freeze(services, local(2025, 3, 4, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await client.post(URL, headers=headers)
        clock.set(local(2025, 3, 10, 9, 0))
        response = await client.post(MAKEUP, json={"date": day}, headers=headers)
        assert response.status == status
        assert await error_code(response) == code
        assert await Checkin.filter(member_id=member.id).count() == 1

    async def test_not_before_the_card_was_opened(
        self, client: TestClient, services: Services
    ) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        member.card_opened_at = local(2025, 3, 5, 10, 0)
        await member.save(update_fields=["card_opened_at"])
        headers = auth_headers(services, member)
        early = await client.post(MAKEUP, json={"date": "2025-03-04"}, headers=headers)
        assert early.status == 409
        assert await error_code(early) == "makeup_before_card"
        same_day = await client.post(MAKEUP, json={"date": "2025-03-05"}, headers=headers)
        assert same_day.status == 201

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"date": "2025-3-1"}, "invalid_date"),
            ({"date": "yesterday"}, "invalid_date"),
            ({}, "invalid_date"),
            ({"date": "2025-03-01", "x": 1}, "invalid_x"),
        ],
    )
    async def test_bad_body(
        self, client: TestClient, services: Services, body: dict[str, Any], code: str
    ) -> None:
        member = await create_member()
        response = await client.post(MAKEUP, json=body, headers=auth_headers(services, member))
        assert response.status == 400
        assert await error_code(response) == code

    async def test_paused_and_cardless(self, client: TestClient, services: Services) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        cardless = await create_member(with_card=False)
        response = await client.post(
            MAKEUP, json={"date": "2025-03-01"}, headers=auth_headers(services, cardless)
        )
        assert await error_code(response) == "card_required"
        await set_checkin_rules(enabled=False)
        member = await create_member()
        response = await client.post(
            MAKEUP, json={"date": "2025-03-01"}, headers=auth_headers(services, member)
        )
        assert await error_code(response) == "checkin_disabled"
        assert (await Member.get(id=member.id)).points_balance == 0
