"""Redis stopped and started again in the middle of a flash sale.

The database decides every claim, so the stock is issued exactly with or without Redis;
`/readyz` says Redis is unavailable while it is; each use of Redis degrades as the README's
table says ("Without Redis"), and everything is back once Redis is:

- members' sessions and cached rows: read from the database (open);
- members' logins: the limits are not counted (open); staff logins: 503 (closed);
- the bot: pushes answered without deduplication (open);
- the scheduler: the leader cannot renew its lease and pauses (closed), then leads again.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import aiohttp
from aiohttp import web

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import run_load, wait_until
from tests.faults.shop import claims, members_headers, sale
from tests.support.wechat_push import OfficialPusher
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.models.coupons import Coupon, CouponTemplate

STOCK = 1000
MEMBERS = 1500
CLIENTS = 32


def readiness(stack: Stack) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(stack.layout.url + "/readyz", timeout=5) as response:
            return response.status, json.load(response)["checks"]
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)["checks"]


class _Http:
    """What OfficialPusher asks of a test client, over a session to the stack."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(self.base + path, **kwargs)


async def features(stack: Stack, config: Config, n: int) -> dict[str, Any]:
    """What a member logging in, an operator logging in and a follower chatting get now."""
    base = stack.layout.url
    password = (stack.layout.root / "owner-password").read_text().strip()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            stack.layout.wechat_url + "/_demo/login-code", json={"openid": f"o-redis-{n}"}
        ) as r:
            code = (await r.json())["code"]
        async with http.post(base + "/api/v1/session", json={"code": code}) as r:
            member = r.status
        async with http.post(
            base + "/admin/api/v1/login", json={"username": "owner", "password": password}
        ) as r:
            staff = (r.status, (await r.json()).get("error", {}).get("code", "ok"))
        pusher = OfficialPusher(_Http(http, base), config)  # type: ignore[arg-type]
        reply = await pusher.text(f"o-follower-{n}", "帮助")
    return {"member login": member, "staff login": staff, "bot 帮助": reply.status}


def scheduler_log(stack: Stack) -> str:
    return stack.layout.log_file("scheduler").read_text(encoding="utf-8", errors="replace")


async def test_claims_stay_exact_while_redis_is_away(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    template = await sale(services, total_stock=STOCK, per_member_limit=1)
    calls = claims(template, await members_headers(services, MEMBERS), each=2)
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(stack.layout.url, iter(calls), clients=CLIENTS, stop=stop))
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.stop_part, "redis")
    down_at = time.monotonic()
    down = await asyncio.to_thread(readiness, stack)
    without = await features(stack, services.config, 1)
    # The leader finds it cannot renew within a third of the lease, and pauses.
    await wait_until(lambda: "scheduler lease lost" in scheduler_log(stack), timeout=10)
    await asyncio.to_thread(stack.start_redis)
    up_at = time.monotonic()
    tally = await load
    up = await asyncio.to_thread(readiness, stack)
    again = await features(stack, services.config, 2)
    await wait_until(
        lambda: (
            scheduler_log(stack).rfind("scheduler leader")
            > scheduler_log(stack).rfind("scheduler lease lost")
        ),
        timeout=10,
    )

    assert down == (503, {"database": "ok", "redis": "unavailable"})
    assert up == (200, {"database": "ok", "redis": "ok"})
    assert without == {
        "member login": 200,
        "staff login": (503, "redis_unavailable"),
        "bot 帮助": 200,
    }
    assert again == {"member login": 200, "staff login": (200, "ok"), "bot 帮助": 200}
    during = tally.where(lambda o: down_at <= o.sent_at <= up_at)
    assert len(during) > 20, "the sale was over before Redis stopped"
    fresh = await CouponTemplate.get(id=template.id)
    assert (fresh.remaining, fresh.claimed) == (0, STOCK)
    assert await Coupon.filter(template_id=template.id).count() == STOCK
    failures = tally.failures({(409, "sold_out"), (409, "limit_reached")})
    print(
        f"\nredis restart: {len(tally.outcomes)} claims, {tally.counts()[('claim', 201, 'ok')]} "
        f"issued, failures {sorted(set((f.status, f.code) for f in failures))}, "
        f"down {up_at - down_at:.1f} s"
    )
    assert failures == [], tally.counts()
    await assert_invariants()
