"""The whole service on a Redis Cluster, through its HTTP API: what a member does first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio.cluster import RedisCluster

from handlers.coupons.issuing import soldout_key
from handlers.coupons.templates import create_template
from handlers.operators.accounts import create_operator
from tests.coupons.conftest import cash_fields
from tests.members.flows import cardholder, seed_tiers
from tests.support.http import error_code
from tests.support.processes import free_port
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Role


class TestReadiness:
    async def test_readyz_asks_every_primary(self, client: TestClient, services: Services) -> None:
        assert isinstance(services.redis, RedisCluster)
        response = await client.get("/readyz")
        assert response.status == 200, await response.text()
        assert (await response.json())["checks"] == {"database": "ok", "redis": "ok"}


class TestAClusterDownAtStart:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["redis"]["url"] = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens
        return settings

    async def test_the_service_starts_and_is_not_ready(
        self, log_lines: Callable[[], str], client: TestClient
    ) -> None:
        assert "Redis Cluster not reachable at start" in log_lines()
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {"database": "ok", "redis": "unavailable"}

    async def test_each_use_degrades_as_without_a_single_redis(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        """README, "Without Redis": members log in and see their card; staff logins are 503."""
        await seed_tiers()
        headers, _ = await cardholder(client, fake_wechat, "o-cluster-down")
        assert (await client.get("/api/v1/card", headers=headers)).status == 200
        await create_operator("op-cluster", "correct-horse-battery", Role.OPERATOR)
        staff = await client.post(
            "/admin/api/v1/login", json={"username": "op-cluster", "password": "wrong-password"}
        )
        assert staff.status == 503
        assert await error_code(staff) == "redis_unavailable"


class TestAMembersFirstVisit:
    async def test_login_card_check_in_and_a_coupon(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await seed_tiers()
        first, card = await cardholder(client, fake_wechat, "o-cluster-1")
        second, _ = await cardholder(client, fake_wechat, "o-cluster-2")

        shown = await client.get("/api/v1/card", headers=first)
        assert shown.status == 200
        assert (await shown.json())["card_no"] == card["card_no"]

        checked_in = await client.post("/api/v1/checkins", headers=first)
        assert checked_in.status == 201, await checked_in.text()
        points = (await checked_in.json())["balance"]
        assert points > 0
        again = await client.post("/api/v1/checkins", headers=first)
        assert again.status == 409
        # the check-in renewed the member's stamp: the next request shows the new balance
        assert (await (await client.get("/api/v1/card", headers=first)).json())["points"] == points

        template = await create_template(services, None, cash_fields(total_stock=1))
        url = f"/api/v1/coupons/center/{template.id}/claim"
        assert (await client.post(url, headers=first)).status == 201
        refused = await client.post(url, headers=second)
        assert await error_code(refused) == "sold_out"
        assert await services.redis.exists(soldout_key(template.id)), "the sold-out flag is set"
        # the latecomer's next try is answered from the flag
        assert await error_code(await client.post(url, headers=second)) == "sold_out"

        assert (await client.get("/readyz")).status == 200
