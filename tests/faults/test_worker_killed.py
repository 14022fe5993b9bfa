"""A worker killed with SIGKILL in the middle of a flash sale.

The database decides every claim, so the stock is issued exactly whatever dies; the clients
whose requests were on the dead worker get nginx's 502 (a claim is never sent twice by nginx),
every other request is answered, and gunicorn starts a worker in its place.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from aiohttp import web

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import run_load, wait_until
from tests.faults.shop import claims, members_headers, sale
from wxmember.core import keys
from wxmember.core.models.coupons import Coupon, CouponTemplate

STOCK = 1000
MEMBERS = 2000
CLIENTS = 64


async def test_a_worker_killed_mid_sale_costs_only_its_requests_in_flight(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    template = await sale(services, total_stock=STOCK, per_member_limit=1)
    calls = claims(template, await members_headers(services, MEMBERS), each=2)
    workers = stack.worker_pids()
    assert len(workers) == 2

    stop = asyncio.Event()
    load = asyncio.create_task(run_load(stack.layout.url, iter(calls), clients=CLIENTS, stop=stop))
    remaining = STOCK
    while remaining > STOCK * 2 // 3:  # a third of the stock gone: the sale is in full swing
        await asyncio.sleep(0.05)
        remaining = (await CouponTemplate.get(id=template.id)).remaining or 0
        assert not load.done()
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    replaced = await wait_until(
        lambda: len(stack.worker_pids()) == 2 and victim not in stack.worker_pids(), timeout=30
    )
    tally = await load
    fresh = await CouponTemplate.get(id=template.id)
    assert (fresh.remaining, fresh.claimed) == (0, STOCK)
    assert await Coupon.filter(template_id=template.id).count() == STOCK

    failures = tally.failures({(409, "sold_out"), (409, "limit_reached")})
    # Only what the dead worker held: at most one request per client, all sent before it died.
    assert 0 < len(failures) <= CLIENTS, tally.counts()
    assert {(f.status, f.code) for f in failures} <= {(502, "not_json")}, tally.counts()
    assert max(f.sent_at for f in failures) <= killed_at + 1.0
    answered_claims = tally.counts()[("claim", 201, "ok")]
    assert STOCK - len(failures) <= answered_claims <= STOCK
    print(
        f"\nworker killed: {len(tally.outcomes)} claims, {answered_claims} answered 201, "
        f"{len(failures)} lost with the worker (502), replaced in {replaced:.1f} s"
    )
    await assert_invariants()
