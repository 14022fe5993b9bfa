"""A rolling restart under load: gunicorn's HUP, twice, while members read and write.

gunicorn starts the new workers before it lets the old ones go, and an old worker finishes
what it holds (graceful_timeout) while nginx sends new requests to the workers that listen:
no client sees a failure.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import Outcome, cycle, run_load, wait_until
from tests.faults.shop import EVERYDAY_REFUSALS, everyday, members_headers, sale
from wxmember.core import keys

MEMBERS = 300
CLIENTS = 32


async def test_workers_replaced_under_load_fail_no_request(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    template = await sale(services, total_stock=100_000, per_member_limit=3)
    calls = everyday(template, await members_headers(services, MEMBERS))
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(stack.layout.url, cycle(calls), clients=CLIENTS, stop=stop))
    await asyncio.sleep(1.5)
    took = []
    windows = []
    for _ in range(2):
        before = set(stack.worker_pids())
        began = time.monotonic()
        stack.reload_service()
        took.append(
            await wait_until(
                lambda before=before: (
                    len(stack.worker_pids()) == 2  # type: ignore[misc]
                    and not before & set(stack.worker_pids())
                ),
                timeout=60,
            )
        )
        windows.append((began, time.monotonic()))
        await asyncio.sleep(1.0)
    stop.set()
    tally = await load

    for began, ended in windows:  # the load went on while the workers were replaced

        def within(o: Outcome, b: float = began, e: float = ended) -> bool:
            return b <= o.sent_at <= e

        assert len(tally.where(within)) > 20
    assert tally.failures(EVERYDAY_REFUSALS) == [], tally.counts()
    print(
        f"\nrolling restart: {len(tally.outcomes)} requests, none failed; "
        f"workers replaced in {took[0]:.1f} s and {took[1]:.1f} s"
    )
    await assert_invariants()
