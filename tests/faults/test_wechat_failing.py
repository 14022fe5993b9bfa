"""WeChat slow (10 s per call) or failing (HTTP 5xx, errcode -1 "busy") for a while.

Member logins, which need WeChat, answer 503 `wechat_unavailable` within the client's budget
(`wechat.timeout_seconds` per attempt, `network_retries` more after a timeout, a 5xx or a
busy answer) and hold no database connection meanwhile: members' other requests go on as
before. Reminders that WeChat refused as busy are tried again after `retry_base_seconds` and
delivered once WeChat answers, each exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import Call, cycle, run_load
from tests.faults.shop import (
    birthday_followers,
    birthday_rule,
    members_headers,
    template_messages,
)
from wxmember.core import keys
from wxmember.core.models.reminders import ReminderDelivery

LOGIN = "/sns/jscode2session"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
TEMPLATE = "tpl-stack-points"
LOGINS = 40


async def fault(stack: Stack, **body: Any) -> None:
    async with aiohttp.ClientSession() as http:
        if body:
            await http.post(stack.layout.wechat_url + "/_stack/faults", json=body)
        else:
            await http.delete(stack.layout.wechat_url + "/_stack/faults")


async def logins(stack: Stack, count: int, tag: str) -> list[tuple[int, str, float]]:
    """`count` members logging in at once: status, error code and seconds of each."""
    async with aiohttp.ClientSession() as http:

        async def one(n: int) -> tuple[int, str, float]:
            async with http.post(
                stack.layout.wechat_url + "/_demo/login-code", json={"openid": f"o-{tag}-{n}"}
            ) as r:
                code = (await r.json())["code"]
            started = time.monotonic()
            async with http.post(stack.layout.url + "/api/v1/session", json={"code": code}) as r:
                body = await r.json()
            error = body.get("error", {}).get("code", "ok")
            return r.status, error, time.monotonic() - started

        return await asyncio.gather(*(one(n) for n in range(count)))


async def test_logins_fail_within_their_budget_and_nothing_else_waits(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    wechat = services.config.wechat
    backoff = 0.2 * (2**wechat.network_retries - 1)
    budget = (wechat.network_retries + 1) * wechat.timeout_seconds + backoff
    headers = await members_headers(services, 100)
    reads = [Call("card", "GET", "/api/v1/card", h) for h in headers]
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(stack.layout.url, cycle(reads), clients=16, stop=stop))

    await fault(stack, path=LOGIN, delay=10, times=10_000)
    slow = await logins(stack, LOGINS, "slow")
    await fault(stack)
    await fault(stack, path=LOGIN, errcode=-1, times=10_000)
    busy = await logins(stack, LOGINS, "busy")
    await fault(stack)
    await fault(stack, path=LOGIN, status=502, times=10_000)
    broken = await logins(stack, LOGINS, "broken")
    await fault(stack)
    stop.set()
    tally = await load
    after = await logins(stack, 5, "after")

    for outcome in (slow, busy, broken):
        assert {(status, code) for status, code, _ in outcome} == {(503, "wechat_unavailable")}
    # The budget, and what a machine busy with the load adds to it, but nowhere near the 30 s
    # after which nginx would give up.
    assert max(seconds for *_, seconds in slow) < budget + 5.0
    # Refused at once, retries and all: well within one call's timeout.
    assert max(seconds for *_, seconds in busy + broken) < wechat.timeout_seconds
    assert {(status, code) for status, code, _ in after} == {(200, "ok")}
    # Members' other requests never waited on WeChat's: no connection was held by a login.
    assert tally.failures(()) == [], tally.counts()
    assert tally.slowest() < wechat.timeout_seconds, tally.slowest()
    print(
        f"\nWeChat slow: {LOGINS} logins 503 in at most {max(s for *_, s in slow):.1f} s "
        f"(budget {budget:.1f} s); busy / 5xx: at most "
        f"{max(s for *_, s in busy + broken):.2f} s; {len(tally.outcomes)} card views meanwhile, "
        f"none failed, slowest {tally.slowest():.2f} s"
    )


async def test_reminders_back_off_while_wechat_is_busy_and_finish_later(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    members = 30
    openids = [f"o-oa-busy-{i}" for i in range(members)]
    async with birthday_followers(stack, services, openids):
        # Every attempt of the first run is refused as busy (each send is tried 1 + retries).
        attempts = members * (services.config.wechat.network_retries + 1)
        await fault(stack, path=TEMPLATE_SEND, errcode=-1, times=attempts)
        rule = await birthday_rule(stack, services, "生日祝福（忙）", TEMPLATE)
        rows = ReminderDelivery.filter(rule_id=rule.id)

        deadline = time.monotonic() + 90
        while await rows.filter(reason="retrying").count() < members:
            assert time.monotonic() < deadline, await rows.values("state", "reason", "attempts")
            await asyncio.sleep(0.5)
        refused_at = time.monotonic()
        deadline = time.monotonic() + 150
        while await rows.exclude(state="sent").exists():
            assert time.monotonic() < deadline, await rows.values("state", "reason", "attempts")
            await asyncio.sleep(1.0)

        sent = await template_messages(stack, TEMPLATE)
        assert sent == Counter({openid: 1 for openid in openids})
        assert set(await rows.values_list("attempts", flat=True)) == {2}
        print(
            f"\nreminders while WeChat was busy: {members} refused, then delivered once each "
            f"{time.monotonic() - refused_at:.0f} s later"
        )
        await assert_invariants()
