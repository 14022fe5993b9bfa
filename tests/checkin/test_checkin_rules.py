"""`/admin/api/v1/checkin-rules`: operators change the rules; the change applies tomorrow."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.localtime import freeze, local
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.checkins import CheckinRule

URL = "/admin/api/v1/checkin-rules"
RULES = {
    "enabled": True,
    "base_points": 10,
    "cycle_days": 5,
    "bonuses": [{"day": 2, "points": 3}, {"day": 5, "points": 50}],
    "makeup_per_month": 3,
    "makeup_price_points": 30,
    "adds_growth": False,
}


class TestReadRules:
    async def test_defaults_until_an_operator_saves_rules(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("operator")
        body = await (await client.get(URL, headers=headers)).json()
        assert body["current"] == {
            "enabled": True,
            "base_points": 5,
            "cycle_days": 7,
            "bonuses": [{"day": 3, "points": 5}, {"day": 7, "points": 20}],
            "makeup_per_month": 2,
            "makeup_price_points": 0,
            "adds_growth": True,
            "effective_from": None,
            "is_default": True,
        }
        assert body["next"] is None

    async def test_cashier_may_not_read(self, client: TestClient, login_as: Any) -> None:
        response = await client.get(URL, headers=await login_as("cashier"))
        assert response.status == 403


class TestReplaceRules:
    async def test_applies_from_the_next_local_day(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        clock = freeze(services, local(2025, 3, 10, 23, 30))
        headers = await login_as("owner", "olivia")
        response = await client.put(URL, json=RULES, headers=headers)
        assert response.status == 200
        body = await response.json()
        assert body["current"]["is_default"] is True
        assert body["next"] == RULES | {"effective_from": "2025-03-11", "is_default": False}
        member = await create_member()
        member_headers = auth_headers(services, member)
        today = await (await client.post("/api/v1/checkins", headers=member_headers)).json()
        assert today["points"] == 5
        assert today["tomorrow"] == {
            "date": "2025-03-11",
            "streak": 2,
            "points": 13,
            "bonus_points": 3,
        }
        clock.advance(hours=1)
        tomorrow = await (await client.post("/api/v1/checkins", headers=member_headers)).json()
        assert (tomorrow["points"], tomorrow["bonus_points"], tomorrow["cycle_day"]) == (13, 3, 2)
        now = await (await client.get(URL, headers=headers)).json()
        assert now["current"]["effective_from"] == "2025-03-11"
        assert now["next"] is None

    async def test_audited_with_before_and_after(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        headers = await login_as("operator", "olga")
        await client.put(URL, json=RULES, headers=headers)
        entry = await AuditEntry.get(action="checkin_rules.replace")
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "olga",
            "checkin_rules",
            "2025-03-11",
        )
        assert entry.before is not None and entry.after is not None
        assert entry.before["base_points"] == 5
        assert entry.after["base_points"] == 10
        assert entry.after["effective_from"] == "2025-03-11"

    async def test_second_change_the_same_day_replaces_the_pending_one(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        headers = await login_as("operator")
        await client.put(URL, json=RULES, headers=headers)
        response = await client.put(URL, json=RULES | {"base_points": 7}, headers=headers)
        assert (await response.json())["next"]["base_points"] == 7
        assert await CheckinRule.all().count() == 1
        second = await AuditEntry.filter(action="checkin_rules.replace").order_by("-id").first()
        assert second is not None and second.before is not None
        assert second.before["base_points"] == 10

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"base_points": -1}, "invalid_base_points"),
            ({"base_points": 100_001}, "invalid_base_points"),
            ({"cycle_days": 0}, "invalid_cycle_days"),
            ({"cycle_days": 32}, "invalid_cycle_days"),
            ({"bonuses": [{"day": 6, "points": 5}]}, "invalid_bonuses"),
            ({"bonuses": [{"day": 2, "points": 5}, {"day": 2, "points": 6}]}, "invalid_bonuses"),
            ({"bonuses": "many"}, "invalid_bonuses"),
            ({"enabled": "maybe"}, "invalid_enabled"),
            ({"bonuses": [{"day": 2, "points": 0}]}, "invalid_bonuses"),
            ({"makeup_per_month": 32}, "invalid_makeup_per_month"),
            ({"makeup_price_points": -5}, "invalid_makeup_price_points"),
            ({"colour": "red"}, "invalid_colour"),
        ],
    )
    async def test_bad_rules(
        self, client: TestClient, login_as: Any, change: dict[str, Any], code: str
    ) -> None:
        headers = await login_as("operator")
        response = await client.put(URL, json=RULES | change, headers=headers)
        assert response.status == 400
        assert await error_code(response) == code
        assert not await CheckinRule.exists()
        assert not await AuditEntry.exists(action="checkin_rules.replace")

    async def test_cashier_may_not_change(self, client: TestClient, login_as: Any) -> None:
        response = await client.put(URL, json=RULES, headers=await login_as("cashier"))
        assert response.status == 403
