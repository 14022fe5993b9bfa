"""PostgreSQL stopped and started again under mixed load.

While the server is away every request that needs it is answered at once with 503
`database_unavailable` and `Retry-After` (no hang, no 500); the pools reconnect by
themselves when it is back, nothing half-written is left, and the scheduler lives through it.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import cycle, run_load
from tests.faults.shop import EVERYDAY_REFUSALS, everyday, members_headers, sale
from wxmember.core import keys

MEMBERS = 300
CLIENTS = 32
DOWN_SECONDS = 4.0


async def test_requests_fail_fast_while_postgres_is_down_and_recover_after(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    template = await sale(services, total_stock=100_000, per_member_limit=3)
    calls = everyday(template, await members_headers(services, MEMBERS))
    scheduler = stack.pid("scheduler")
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(stack.layout.url, cycle(calls), clients=CLIENTS, stop=stop))
    await asyncio.sleep(1.5)
    down_at = time.monotonic()  # requests fail from the moment the server begins to stop
    await asyncio.to_thread(stack.stop_postgres, "fast")
    await asyncio.sleep(DOWN_SECONDS)
    await asyncio.to_thread(stack.start_postgres)
    up_at = time.monotonic()
    await asyncio.sleep(4.0)
    stop.set()
    tally = await load

    failures = tally.failures(EVERYDAY_REFUSALS)
    assert failures, "the load never met the stopped server"
    assert {(f.status, f.code) for f in failures} == {(503, "database_unavailable")}, tally.counts()
    # Failing fast: no request waited as long as the connect timeout.
    assert tally.slowest() < services.config.database.connect_timeout_seconds, tally.slowest()
    # Every failure belongs to the outage (answered after the server began to stop: a request
    # sent before may still have been waiting for it); after it, the pools were whole again
    # within 2 s.
    first = min(f.sent_at + f.seconds for f in failures)
    last = max(f.sent_at for f in failures)
    assert down_at <= first and last <= up_at + 2.0, (first - down_at, last - up_at)
    after = tally.where(lambda o: o.sent_at > last)
    assert len(after) > 20
    assert stack.pid("scheduler") == scheduler
    print(
        f"\ndatabase restart: {len(tally.outcomes)} requests, {len(failures)} answered 503 "
        f"database_unavailable while it was down for {up_at - down_at:.1f} s; last failure "
        f"{last - up_at:+.2f} s after it was back; slowest answer {tally.slowest():.2f} s"
    )
    await assert_invariants()
