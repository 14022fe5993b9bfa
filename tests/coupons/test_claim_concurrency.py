"""Flash sale: 2,000 concurrent claims by 500 members for 100 coupons, limit 2 per member.

Whatever the interleaving, exactly 100 coupons exist afterwards and nobody holds more than 2:
through the test client (SQLite, or PostgreSQL when configured), with Redis flushed while the
claims are in flight, and through two real worker processes sharing PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers.coupons.issuing import soldout_key
from handlers.coupons.templates import create_template
from handlers.operators.accounts import create_operator
from tests.coupons.conftest import cash_fields
from tests.factories import auth_headers, create_member
from tests.support.processes import running_services, service_env
from tests.support.settings import REDIS_URL, requires_postgres
from wxmember.core.context import Services
from wxmember.core.models import Role
from wxmember.core.models.coupons import Coupon, CouponClaimCounter, CouponTemplate

STOCK = 100
LIMIT = 2
MEMBERS = 500
CLAIMS = 2000
IN_FLIGHT = 100

Post = Callable[[int, dict[str, str]], Awaitable[tuple[int, str]]]


async def flash_sale(services: Services) -> tuple[CouponTemplate, list[dict[str, str]]]:
    """The template and the 2,000 requests' headers.

    Each member's four claims are sent side by side (members in random order), so they are in
    flight together and the per-member limit is raced as hard as the stock.
    """
    template = await create_template(
        services, None, cash_fields(total_stock=STOCK, per_member_limit=LIMIT)
    )
    members = [await create_member() for _ in range(MEMBERS)]
    random.Random(20250310).shuffle(members)
    plan = [auth_headers(services, m) for m in members for _ in range(CLAIMS // MEMBERS)]
    return template, plan


async def send_all(plan: list[dict[str, str]], post: Post) -> Counter[tuple[int, str]]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(index: int, headers: dict[str, str]) -> tuple[int, str]:
        async with gate:
            return await post(index, headers)

    return Counter(await asyncio.gather(*(one(i, h) for i, h in enumerate(plan))))


def outcome(status: int, body: dict) -> tuple[int, str]:
    return status, body["error"]["code"] if status >= 400 else "claimed"


async def assert_books_balance(template_id: int, results: Counter[tuple[int, str]]) -> None:
    assert sum(results.values()) == CLAIMS
    assert results[(201, "claimed")] == STOCK, results
    assert set(results) <= {(201, "claimed"), (409, "sold_out"), (409, "limit_reached")}, results
    assert await Coupon.filter(template_id=template_id).count() == STOCK
    template = await CouponTemplate.get(id=template_id)
    assert (template.remaining, template.claimed) == (0, STOCK)
    held = Counter(await Coupon.filter(template_id=template_id).values_list("member_id", flat=True))
    assert max(held.values()) <= LIMIT
    counters = dict(
        await CouponClaimCounter.filter(template_id=template_id, count__gt=0).values_list(
            "member_id", "count"
        )
    )
    assert counters == dict(held)
    codes = await Coupon.filter(template_id=template_id).values_list("code", flat=True)
    assert len(set(codes)) == STOCK


def client_post(client: TestClient, template_id: int) -> Post:
    url = f"/api/v1/coupons/center/{template_id}/claim"

    async def post(index: int, headers: dict[str, str]) -> tuple[int, str]:
        response = await client.post(url, headers=headers)
        return outcome(response.status, await response.json())

    return post


class TestFlashSale:
    async def test_2000_claims_never_oversell_or_exceed_the_limit(
        self, client: TestClient, services: Services
    ) -> None:
        template, plan = await flash_sale(services)
        results = await send_all(plan, client_post(client, template.id))
        await assert_books_balance(template.id, results)
        assert await services.redis.exists(soldout_key(template.id))

    async def test_redis_flushed_mid_sale_still_exactly_100(
        self, client: TestClient, services: Services
    ) -> None:
        template, plan = await flash_sale(services)
        post = client_post(client, template.id)
        done = 0
        flushes_in_flight = 0

        async def counting_post(index: int, headers: dict[str, str]) -> tuple[int, str]:
            nonlocal done
            try:
                return await post(index, headers)
            finally:
                done += 1

        async def flush_while_claiming() -> None:
            nonlocal flushes_in_flight
            while done < CLAIMS:
                if await services.redis.exists(soldout_key(template.id)):
                    await services.redis.flushdb()
                    flushes_in_flight += done < CLAIMS
                await asyncio.sleep(0.005)

        flusher = asyncio.create_task(flush_while_claiming())
        try:
            results = await send_all(plan, counting_post)
        finally:
            await flusher
        assert flushes_in_flight >= 1
        await assert_books_balance(template.id, results)


@requires_postgres
@pytest.mark.skipif(not REDIS_URL, reason="needs WXMEMBER_TEST_REDIS_URL")
class TestTwoWorkerProcesses:
    async def test_2000_claims_split_across_two_processes(
        self,
        client: TestClient,
        services: Services,
        database_url: str,
        fake_wechat_server: TestServer,
        tmp_path: Path,
    ) -> None:
        template, plan = await flash_sale(services)
        env = service_env(
            database_url=database_url,
            redis_url=REDIS_URL,
            wechat_api_base=str(fake_wechat_server.make_url("")).rstrip("/"),
        )
        async with (
            running_services(2, env, tmp_path) as urls,
            aiohttp.ClientSession() as session,
        ):

            async def post(index: int, headers: dict[str, str]) -> tuple[int, str]:
                url = f"{urls[index % 2]}/api/v1/coupons/center/{template.id}/claim"
                async with session.post(url, headers=headers) as response:
                    return outcome(response.status, await response.json())

            results = await send_all(plan, post)
        await assert_books_balance(template.id, results)

    async def test_stock_added_through_one_process_reaches_what_the_other_knew(
        self,
        services: Services,
        database_url: str,
        fake_wechat_server: TestServer,
        tmp_path: Path,
    ) -> None:
        """Each process remembers a sold-out template; more stock makes both forget it."""
        template = await create_template(services, None, cash_fields(total_stock=1))
        first = auth_headers(services, await create_member())
        second = auth_headers(services, await create_member())
        await create_operator("owner-stock", "correct-horse-battery", Role.OWNER)
        env = service_env(
            database_url=database_url,
            redis_url=REDIS_URL,
            wechat_api_base=str(fake_wechat_server.make_url("")).rstrip("/"),
        )
        async with (
            running_services(2, env, tmp_path) as (one, two),
            aiohttp.ClientSession() as http,
        ):

            async def claim(base: str, headers: dict[str, str]) -> tuple[int, str]:
                url = f"{base}/api/v1/coupons/center/{template.id}/claim"
                async with http.post(url, headers=headers) as response:
                    return outcome(response.status, await response.json())

            assert await claim(one, first) == (201, "claimed")
            for base in (one, two, one, two):
                assert await claim(base, second) == (409, "sold_out")
            login = {"username": "owner-stock", "password": "correct-horse-battery"}
            async with http.post(f"{two}/admin/api/v1/login", json=login) as response:
                owner = {"Authorization": f"Bearer {(await response.json())['token']}"}
            async with http.patch(
                f"{two}/admin/api/v1/coupon-templates/{template.id}",
                json={"total_stock": 2},
                headers=owner,
            ) as response:
                assert response.status == 200, await response.text()
            assert await claim(one, second) == (201, "claimed")
