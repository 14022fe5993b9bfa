"""`GET /api/v1/tiers`: the ladder side by side and the member's figures at each position."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.tiers.growth import add_growth
from tests.factories import auth_headers, create_member
from tests.tiers.conftest import MemberIn
from wxmember.core.context import Services
from wxmember.core.models.members import Member
from wxmember.core.models.tiers import Tier

pytestmark = pytest.mark.usefixtures("clock")


async def _view(client: TestClient, services: Services, member: Member) -> dict[str, Any]:
    response = await client.get("/api/v1/tiers", headers=auth_headers(services, member))
    assert response.status == 200, await response.text()
    return await response.json()


async def _grow(services: Services, member: Member, amount: int) -> None:
    await add_growth(services, member.id, amount, reason="purchase", idempotency_key=f"v{amount}")


class TestTierView:
    async def test_entry_member(
        self, client: TestClient, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in()
        await _grow(services, member, 300)
        view = await _view(client, services, member)
        assert view["current_tier"] == {
            "id": member.tier_id,
            "name": "普通会员",
            "level": 0,
            "color": "#6B7280",
        }
        assert view["next_tier"]["name"] == "银卡会员"
        assert view["next_tier"]["growth_needed"] == 700
        assert view["retention"] == {"threshold": 0, "growth_needed": 0}
        assert (view["growth_this_period"], view["growth_total"]) == (300, 300)
        assert view["period"] == {
            "kind": "calendar_year",
            "start": "2025-01-01",
            "end": "2025-12-31",
        }
        assert view["next_evaluation"] == "2026-01-01"
        assert [t["current"] for t in view["tiers"]] == [True, False, False, False]

    async def test_ladder_side_by_side(
        self, client: TestClient, services: Services, member_in: MemberIn
    ) -> None:
        view = await _view(client, services, await member_in())
        assert [
            (t["name"], t["growth_threshold"], t["retention_threshold"], t["multiplier_percent"])
            for t in view["tiers"]
        ] == [
            ("普通会员", 0, 0, 100),
            ("银卡会员", 1000, 800, 110),
            ("金卡会员", 5000, 4000, 125),
            ("钻石会员", 20000, 16000, 150),
        ]
        assert view["tiers"][2]["benefits"] == [
            {"title": "积分 1.25 倍", "kind": "points_multiplier"}
        ]
        assert view["tiers"][3]["upgrade_gift_points"] == 1000

    @pytest.mark.parametrize(("growth", "to_retain"), [(1000, 3000), (4500, 0)])
    async def test_middle_member(
        self,
        client: TestClient,
        services: Services,
        member_in: MemberIn,
        growth: int,
        to_retain: int,
    ) -> None:
        member = await member_in("gold")
        await _grow(services, member, growth)
        view = await _view(client, services, member)
        assert view["current_tier"]["name"] == "金卡会员"
        assert view["next_tier"]["name"] == "钻石会员"
        assert view["next_tier"]["growth_threshold"] == 20000
        assert view["next_tier"]["growth_needed"] == 20000 - growth
        assert view["retention"] == {"threshold": 4000, "growth_needed": to_retain}
        assert view["growth_this_period"] == growth
        assert [t["current"] for t in view["tiers"]] == [False, False, True, False]

    async def test_top_member(
        self, client: TestClient, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in("diamond")
        await _grow(services, member, 2000)
        view = await _view(client, services, member)
        assert view["current_tier"]["name"] == "钻石会员"
        assert view["next_tier"] is None
        assert view["retention"] == {"threshold": 16000, "growth_needed": 14000}

    async def test_view_follows_an_upgrade(
        self, client: TestClient, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in()
        await _grow(services, member, 6000)
        view = await _view(client, services, member)
        assert view["current_tier"]["name"] == "金卡会员"
        assert view["next_tier"]["growth_needed"] == 14000

    async def test_member_without_a_card_sees_the_ladder(
        self, client: TestClient, services: Services, ladder: dict[str, Tier]
    ) -> None:
        member = await create_member(with_card=False)
        view = await _view(client, services, member)
        assert view["current_tier"] is None and view["next_tier"] is None
        assert view["retention"] is None
        assert len(view["tiers"]) == 4 and not any(t["current"] for t in view["tiers"])

    async def test_rolling_period(
        self, client: TestClient, services: Services, member_in: MemberIn
    ) -> None:
        services.config = services.config.replace(tiers={"period": "rolling_12_months"})
        view = await _view(client, services, await member_in())
        assert view["period"] == {
            "kind": "rolling_12_months",
            "start": "2024-07-01",
            "end": "2025-06-30",
        }
        assert view["next_evaluation"] == "2025-07-01"

    async def test_needs_a_session(self, client: TestClient) -> None:
        response = await client.get("/api/v1/tiers")
        assert response.status == 401
