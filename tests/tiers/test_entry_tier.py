"""The entry tier a fresh installation starts with: cards open at once; operators shape it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.members.flows import cardholder
from tests.support.http import error_code
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.tiers import Tier

BASE = "/admin/api/v1/tiers"


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator")


class TestFreshInstallation:
    async def test_the_ladder_has_one_entry_tier(self, client: TestClient) -> None:
        tiers = await Tier.all().values(
            "name", "level", "growth_threshold", "retention_threshold", "multiplier_percent"
        )
        assert tiers == [
            {
                "name": "普通会员",
                "level": 0,
                "growth_threshold": 0,
                "retention_threshold": 0,
                "multiplier_percent": 100,
            }
        ]

    async def test_a_card_opens_with_no_operator_action(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, card = await cardholder(client, fake_wechat, "o-first")
        assert (card["tier"]["name"], card["tier"]["level"]) == ("普通会员", 0)
        response = await client.get("/api/v1/card", headers=headers)
        assert (await response.json())["card_no"] == card["card_no"]


class TestOperatorsShapeIt:
    async def test_renamed_and_built_upon(self, client: TestClient, staff: dict[str, str]) -> None:
        [entry] = await Tier.all()
        response = await client.patch(
            f"{BASE}/{entry.id}", json={"name": "茶友", "color": "#10B981"}, headers=staff
        )
        assert response.status == 200, await response.text()
        silver = {"name": "银卡", "level": 1, "growth_threshold": 1000}
        assert (await client.post(BASE, json=silver, headers=staff)).status == 201
        ladder = await Tier.all().order_by("level").values_list("name", "level")
        assert ladder == [("茶友", 0), ("银卡", 1)]

    async def test_it_stays_the_only_entry_tier(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        second = {"name": "另一个入门", "level": 0, "growth_threshold": 0}
        response = await client.post(BASE, json=second, headers=staff)
        assert response.status == 400
        assert await error_code(response) == "duplicate_level"
        [entry] = await Tier.all()
        response = await client.delete(f"{BASE}/{entry.id}", headers=staff)
        assert response.status == 400
        assert await error_code(response) == "no_entry_tier"
        assert await Tier.all().count() == 1
