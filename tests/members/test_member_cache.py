"""The member behind each request is kept between requests (wxmember.core.member_cache), and
every change to it is seen by the next request: points, tier, the ladder, the profile, logging
out, deletion; in one process, and through two worker processes sharing PostgreSQL and Redis.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers import points
from handlers.operators.accounts import create_operator
from handlers.points.expiry import expire_due_lots
from tests.factories import auth_headers, create_member
from tests.members.flows import seed_tiers
from tests.support.processes import running_services, service_env
from tests.support.settings import REDIS_URL, requires_postgres
from wxmember.core import member_cache
from wxmember.core.context import Services
from wxmember.core.models import Member, Role

PASSWORD = "correct-horse-battery"


async def _get(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = await client.get(f"/api/v1{path}", headers=headers)
    return response.status, await response.json()


async def _owner(client: TestClient) -> dict[str, str]:
    await create_operator("owner-cache", PASSWORD, Role.OWNER)
    response = await client.post(
        "/admin/api/v1/login", json={"username": "owner-cache", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


class TestOneProcess:
    async def test_every_change_is_seen_by_the_next_request(
        self, client: TestClient, services: Services
    ) -> None:
        entry, gold = await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        owner = await _owner(client)
        assert (await _get(client, "/card", headers))[1]["points"] == 0

        # an operator's adjustment (a request of its own)
        await client.post(
            f"/admin/api/v1/members/{member.id}/points-adjustments",
            json={"amount": 120, "reason": "goodwill"},
            headers=owner,
        )
        assert (await _get(client, "/card", headers))[1]["points"] == 120

        # a handler called outside any request
        await points.earn(services, member.id, 30, reason="script", idempotency_key="cache-k1")
        assert (await _get(client, "/card", headers))[1]["points"] == 150

        # a tier move, then the tier's own name
        await client.put(
            f"/admin/api/v1/members/{member.id}/tier", json={"tier_id": gold.id}, headers=owner
        )
        _, card = await _get(client, "/card", headers)
        assert card["tier"]["name"] == "金卡会员"
        await client.patch(f"/admin/api/v1/tiers/{gold.id}", json={"name": "黑金"}, headers=owner)
        assert (await _get(client, "/card", headers))[1]["tier"]["name"] == "黑金"
        _, tiers = await _get(client, "/tiers", headers)
        assert [t["name"] for t in tiers["tiers"]] == ["普通会员", "黑金"]

        # the member's own profile change
        await client.patch("/api/v1/me", json={"name": "李四"}, headers=headers)
        assert (await _get(client, "/card", headers))[1]["name"] == "李四"

        # logging out ends every session at once
        await client.post("/api/v1/session/logout", headers=headers)
        status, body = await _get(client, "/card", headers)
        assert (status, body["error"]["code"]) == (401, "invalid_token")

    async def test_a_deleted_member_is_refused_at_once(
        self, client: TestClient, services: Services
    ) -> None:
        await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        assert (await _get(client, "/card", headers))[0] == 200
        assert (await client.delete("/api/v1/me", headers=headers)).status == 204
        assert (await _get(client, "/card", headers))[0] == 401

    async def test_growth_this_period_follows_each_change(
        self, client: TestClient, services: Services
    ) -> None:
        await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        owner = await _owner(client)
        _, before = await _get(client, "/tiers", headers)
        await client.post(
            "/admin/api/v1/pos/purchases",
            json={"member_id": member.id, "order_no": "cache-1", "amount_fen": 10000},
            headers=owner,
        )
        _, after = await _get(client, "/tiers", headers)
        assert after["growth_this_period"] > before["growth_this_period"]
        assert after["growth_total"] > before["growth_total"]

    async def test_the_points_expiring_soon_follow_each_change(
        self, client: TestClient, services: Services
    ) -> None:
        await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        soon = services.clock.now() + timedelta(days=10)
        await points.earn(
            services, member.id, 50, reason="test", idempotency_key="soon-1", expires_at=soon
        )
        assert (await _get(client, "/points", headers))[1]["expiring"]["total"] == 50
        assert (await _get(client, "/points", headers))[1]["expiring"]["total"] == 50  # cached
        await points.spend(services, member.id, 20, reason="test", idempotency_key="spend-1")
        _, after = await _get(client, "/points", headers)
        assert after["balance"] == 30
        assert after["expiring"]["total"] == 30

    async def test_the_expiry_job_is_seen_by_the_next_request(
        self, client: TestClient, services: Services
    ) -> None:
        await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        lapsed = services.clock.now() - timedelta(days=1)
        await points.earn(services, member.id, 40, reason="old", idempotency_key="cache-old")
        await points.earn(
            services,
            member.id,
            25,
            reason="lapsed",
            idempotency_key="cache-lapsed",
            expires_at=lapsed,
        )
        assert (await _get(client, "/card", headers))[1]["points"] == 65
        assert (await _get(client, "/card", headers))[1]["points"] == 65  # served from the cache
        async with services.members.recording_changes():  # as the scheduled job runs it
            assert await expire_due_lots(services) == 1
        assert (await _get(client, "/card", headers))[1]["points"] == 40

    async def test_without_stamps_the_row_is_read(
        self, client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Redis out of reach costs speed, never a stale answer."""
        await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        assert (await _get(client, "/card", headers))[1]["points"] == 0

        async def unreachable(*_: object) -> None:
            raise ConnectionError("redis is down")

        monkeypatch.setattr(member_cache._Stamps, "read", unreachable)
        # a change that neither drops this process's entry nor raises a stamp: only a read of
        # the row can show it
        await Member.filter(id=member.id).update(points_balance=99)
        assert (await _get(client, "/card", headers))[1]["points"] == 99


class _CountingLane:
    """The Redis lane the stamps use, counted by round trip (one batch is one)."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.values: dict[str, bytes] = {}

    async def execute(self, *commands: tuple[Any, ...]) -> list[bytes | None]:
        self.round_trips += 1
        replies: list[bytes | None] = []
        for name, key, *rest in commands:
            if name == "SET":
                self.values[key] = rest[0]
            replies.append(self.values.get(key))
        return replies


class TestOneRequest:
    async def test_a_request_reads_each_stamp_once(self, services: Services) -> None:
        redis = _CountingLane()
        cache = member_cache.MemberCache(redis)  # type: ignore[arg-type]  # the calls it makes
        member = await create_member()

        async def load(member_id: int) -> Member | None:
            return await Member.get_or_none(id=member_id)

        async def nothing() -> int:
            return 0

        async with cache.serving_request():
            await cache.get(member.id, load)
            await cache.get(member.id, load)
            await cache.shared("ladder", nothing)
            await cache.derived(member.id, "growth", nothing)
            assert redis.round_trips == 1
            # the request's own change: the member's stamp is read again, once
            member_cache.changed(member.id)
            await cache.get(member.id, load)
            await cache.get(member.id, load)
            assert redis.round_trips == 2
        assert redis.round_trips == 3  # the change published as the request ends

        async with cache.serving_request():  # the next request reads the stamps anew
            await cache.get(member.id, load)
        assert redis.round_trips == 4

    async def test_a_caller_changing_its_member_leaves_the_cached_one_alone(
        self, services: Services
    ) -> None:
        _, gold = await seed_tiers()
        member = await create_member()
        await Member.filter(id=member.id).update(points_balance=10, tier_id=gold.id)
        cache = member_cache.MemberCache(_CountingLane())  # type: ignore[arg-type]

        async def load(member_id: int) -> Member | None:
            return await Member.get_or_none(id=member_id).select_related("tier")

        first = await cache.get(member.id, load)
        assert first is not None and first.tier is not None
        first.points_balance = 999
        first.tier.name = "changed by a caller"
        again = await cache.get(member.id, load)
        assert again is not None and again is not first and again.tier is not None
        assert (again.points_balance, again.tier.name) == (10, gold.name)
        assert again.tier is not first.tier


@requires_postgres
@pytest.mark.skipif(not REDIS_URL, reason="needs WXMEMBER_TEST_REDIS_URL")
class TestTwoWorkerProcesses:
    async def test_a_change_through_one_process_is_seen_through_the_other(
        self,
        client: TestClient,
        services: Services,
        database_url: str,
        fake_wechat_server: TestServer,
        tmp_path: Path,
    ) -> None:
        entry, gold = await seed_tiers()
        member = await create_member()
        headers = auth_headers(services, member)
        await create_operator("owner-cache", PASSWORD, Role.OWNER)
        env = service_env(
            database_url=database_url,
            redis_url=REDIS_URL,
            wechat_api_base=str(fake_wechat_server.make_url("")).rstrip("/"),
        )
        async with (
            running_services(2, env, tmp_path) as (one, two),
            aiohttp.ClientSession() as http,
        ):

            async def card(base: str) -> tuple[int, Any]:
                async with http.get(f"{base}/api/v1/card", headers=headers) as response:
                    return response.status, await response.json()

            async with http.post(
                f"{one}/admin/api/v1/login", json={"username": "owner-cache", "password": PASSWORD}
            ) as response:
                owner = {"Authorization": f"Bearer {(await response.json())['token']}"}
            # both processes hold the member now
            assert (await card(one))[1]["points"] == (await card(two))[1]["points"] == 0

            async with http.post(
                f"{one}/admin/api/v1/members/{member.id}/points-adjustments",
                json={"amount": 75, "reason": "goodwill"},
                headers=owner,
            ) as response:
                assert response.status == 201
            assert (await card(two))[1]["points"] == 75

            async with http.put(
                f"{two}/admin/api/v1/members/{member.id}/tier",
                json={"tier_id": gold.id},
                headers=owner,
            ) as response:
                assert response.status == 200
            assert (await card(one))[1]["tier"]["name"] == "金卡会员"

            async with http.patch(
                f"{one}/admin/api/v1/tiers/{gold.id}", json={"name": "黑金"}, headers=owner
            ) as response:
                assert response.status == 200
            assert (await card(two))[1]["tier"]["name"] == "黑金"

            async with http.post(f"{two}/api/v1/session/logout", headers=headers) as response:
                assert response.status in (200, 204)
            status, body = await card(one)
            assert (status, body["error"]["code"]) == (401, "invalid_token")
