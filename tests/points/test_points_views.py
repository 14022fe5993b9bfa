"""`GET /api/v1/points` and `GET /api/v1/points/ledger`."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers import points
from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.localtime import freeze, local
from wxmember.core.context import Services


class TestPointsSummary:
    async def test_balance_debt_and_expiring_grouped_by_date(
        self, client: TestClient, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 1, 10, 9, 0))
        member = await create_member()
        for key, amount, expires_at in [
            ("a", 10, local(2025, 1, 20, 23, 59, 59)),
            ("b", 15, local(2025, 1, 20, 23, 59, 59)),
            ("c", 7, local(2025, 1, 20, 12, 0)),
            ("d", 20, local(2025, 2, 9, 23, 59, 59)),
            ("e", 30, local(2025, 2, 10, 23, 59, 59)),
            ("f", 40, local(2025, 1, 5, 23, 59, 59)),
        ]:
            clock.set(local(2025, 1, 1, 9, 0))
            await points.earn(
                services, member.id, amount, reason="r", idempotency_key=key, expires_at=expires_at
            )
        clock.set(local(2025, 1, 10, 9, 0))
        await points.spend(services, member.id, 5, reason="mall", idempotency_key="s")
        response = await client.get("/api/v1/points", headers=auth_headers(services, member))
        assert response.status == 200
        body = await response.json()
        assert body["balance"] == 77
        assert body["debt"] == 0
        assert body["expiring"] == {
            "within_days": 30,
            "total": 47,
            "items": [
                {"date": "2025-01-20", "expires_at": "2025-01-20T15:59:59+00:00", "points": 27},
                {"date": "2025-02-09", "expires_at": "2025-02-09T15:59:59+00:00", "points": 20},
            ],
        }

    async def test_shows_debt(self, client: TestClient, services: Services) -> None:
        member = await create_member()
        await points.take_back(services, member.id, 12, reason="refund", idempotency_key="t")
        response = await client.get("/api/v1/points", headers=auth_headers(services, member))
        body = await response.json()
        assert (body["balance"], body["debt"]) == (0, 12)

    async def test_needs_a_session(self, client: TestClient) -> None:
        response = await client.get("/api/v1/points")
        assert response.status == 401


class TestPointsLedger:
    async def test_newest_first_with_cursor_paging(
        self, client: TestClient, services: Services
    ) -> None:
        member = await create_member()
        other = await create_member()
        for n in range(5):
            await points.earn(services, member.id, 10 + n, reason="gift", idempotency_key=f"e{n}")
        await points.earn(services, other.id, 99, reason="gift", idempotency_key="other")
        await points.spend(
            services, member.id, 30, reason="mall", idempotency_key="s", reference="mall_order:7"
        )
        headers = auth_headers(services, member)
        first = await (await client.get("/api/v1/points/ledger?limit=4", headers=headers)).json()
        assert [item["amount"] for item in first["items"]] == [-30, 14, 13, 12]
        assert first["items"][0]["kind"] == "spend"
        assert first["items"][0]["balance_after"] == 30
        assert first["items"][0]["reference"] == "mall_order:7"
        assert first["items"][1]["expires_at"] is not None
        assert first["next_cursor"]
        second = await (
            await client.get(
                f"/api/v1/points/ledger?limit=4&cursor={first['next_cursor']}", headers=headers
            )
        ).json()
        assert [item["amount"] for item in second["items"]] == [11, 10]
        assert second["next_cursor"] is None

    async def test_bad_paging(self, client: TestClient, services: Services) -> None:
        headers = auth_headers(services, await create_member())
        for query, code in [("cursor=zz", "invalid_cursor"), ("limit=0", "invalid_limit")]:
            response = await client.get(f"/api/v1/points/ledger?{query}", headers=headers)
            assert response.status == 400
            assert await error_code(response) == code
