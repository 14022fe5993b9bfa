"""`GET /api/v1/checkins?month=YYYY-MM`: the month's days, the streak, make-ups left."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.checkin.kit import set_checkin_rules
from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.localtime import freeze, local
from wxmember.core.context import Services

URL = "/api/v1/checkins"


class TestCalendar:
    async def test_current_month(self, client: TestClient, services: Services) -> None:
        await set_checkin_rules(makeup_price_points=15)
        clock = freeze(services, local(2025, 2, 27, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        for _ in range(4):
            await client.post(URL, headers=headers)
            clock.advance(days=1)
        clock.set(local(2025, 3, 5, 9, 0))
        await client.post(f"{URL}/makeup", json={"date": "2025-03-03"}, headers=headers)
        response = await client.get(URL, headers=headers)
        assert response.status == 200
        body = await response.json()
        assert body["month"] == "2025-03"
        assert body["today"] == "2025-03-05"
        assert [(day["date"], day["made_up"], day["streak"]) for day in body["days"]] == [
            ("2025-03-01", False, 3),
            ("2025-03-02", False, 4),
            ("2025-03-03", True, 5),
        ]
        assert body["checked_in_today"] is False
        assert body["streak"] == 0
        assert body["makeup"] == {
            "month": "2025-03",
            "limit": 2,
            "used": 1,
            "left": 1,
            "price_points": 15,
        }

    async def test_streak_alive_from_yesterday_and_today(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 4, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await client.post(URL, headers=headers)
        clock.advance(days=1)
        await client.post(URL, headers=headers)
        clock.advance(days=1)
        body = await (await client.get(URL, headers=headers)).json()
        assert (body["streak"], body["checked_in_today"]) == (2, False)
        await client.post(URL, headers=headers)
        body = await (await client.get(URL, headers=headers)).json()
        assert (body["streak"], body["checked_in_today"]) == (3, True)

    async def test_another_month(self, client: TestClient, services: Services) -> None:
        clock = freeze(services, local(2025, 2, 27, 9, 0))
        member = await create_member()
        headers = auth_headers(services, member)
        await client.post(URL, headers=headers)
        clock.set(local(2025, 3, 5, 9, 0))
        await client.post(f"{URL}/makeup", json={"date": "2025-03-01"}, headers=headers)
        body = await (await client.get(f"{URL}?month=2025-02", headers=headers)).json()
        assert body["month"] == "2025-02"
        assert [day["date"] for day in body["days"]] == ["2025-02-27"]
        assert body["makeup"]["used"] == 1
        empty = await (await client.get(f"{URL}?month=2024-12", headers=headers)).json()
        assert empty["days"] == []

    @pytest.mark.parametrize("month", ["2025-13", "2025-00", "25-01", "2025-1", "1999-01", "x"])
    async def test_bad_month(self, client: TestClient, services: Services, month: str) -> None:
        headers = auth_headers(services, await create_member())
        response = await client.get(f"{URL}?month={month}", headers=headers)
        assert response.status == 400
        assert await error_code(response) == "invalid_month"
