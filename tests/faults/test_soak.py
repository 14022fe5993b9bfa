"""A soak: mixed traffic at about half of the measured capacity for ten minutes.

Usage is read with the load paused for a moment (nothing in flight, the pools at the size the
load made them): after a minute of warm-up, and at the end. Each worker's resident memory grows
less than 10 % between the two, and no worker holds more descriptors, and the database and
Redis no more connections, at the end than after the warm-up; no request fails.
`WXMEMBER_SOAK_SECONDS` shortens or lengthens the run (600).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from tortoise import Tortoise

from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import Tally, cycle, run_load
from tests.faults.shop import EVERYDAY_REFUSALS, everyday, members_headers, sale
from wxmember.core import keys

SOAK_SECONDS = float(os.environ.get("WXMEMBER_SOAK_SECONDS", "600"))
WARM_UP_SECONDS = min(60.0, SOAK_SECONDS / 5)
CLIENTS = 32
QUIET_SECONDS = 2.0
SLACK = 10


@dataclass(frozen=True)
class Usage:
    rss_kib: dict[int, int]
    fds: dict[int, int]
    postgres: int
    redis: int


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def usage(stack: Stack, services_app: web.Application) -> Usage:
    workers = stack.worker_pids()
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
    )
    info = await services_app[keys.SERVICES].redis.info("clients")
    return Usage(
        rss_kib={pid: _rss_kib(pid) for pid in workers},
        fds={pid: len(os.listdir(f"/proc/{pid}/fd")) for pid in workers},
        postgres=int(rows[0]["n"]),
        redis=int(info["connected_clients"]),
    )


@pytest.mark.timeout(SOAK_SECONDS + 240)
async def test_half_capacity_for_ten_minutes_leaks_nothing(
    stack: Stack, services_app: web.Application
) -> None:
    # Longer than the suite's per-test limits: pytest-timeout's is raised by the mark above,
    # and the watchdog that dumps every stack and ends the run is re-armed for this test
    # (pytest cancels it when the test ends).
    faulthandler.dump_traceback_later(SOAK_SECONDS + 300, exit=True)
    services = services_app[keys.SERVICES]
    template = await sale(services, total_stock=1_000_000, per_member_limit=1_000)
    calls = everyday(template, await members_headers(services, 500))

    # Capacity: the same mix as fast as the clients go, for a few seconds.
    stop = asyncio.Event()
    burst = asyncio.create_task(
        run_load(stack.layout.url, cycle(calls), clients=CLIENTS, stop=stop)
    )
    await asyncio.sleep(5.0)
    stop.set()
    measured = await burst
    first = min(o.sent_at for o in measured.outcomes)
    capacity = len(measured.outcomes) / (max(o.sent_at for o in measured.outcomes) - first)
    rate = capacity / 2

    async def phase(seconds: float) -> tuple[Tally, Usage]:
        """The load for `seconds`, then usage once the requests in flight are answered."""
        stop = asyncio.Event()
        load = asyncio.create_task(
            run_load(stack.layout.url, cycle(calls), clients=CLIENTS, stop=stop, rate=rate)
        )
        await asyncio.sleep(seconds)
        stop.set()
        tally = await load
        await asyncio.sleep(QUIET_SECONDS)
        return tally, await usage(stack, services_app)

    warm_up, settled = await phase(WARM_UP_SECONDS)
    tally, end = await phase(SOAK_SECONDS - WARM_UP_SECONDS)
    tally.outcomes += warm_up.outcomes

    assert tally.failures(EVERYDAY_REFUSALS) == [], tally.counts()
    assert set(end.rss_kib) == set(settled.rss_kib), "a worker was replaced during the soak"
    # The pools may still grow a little toward their bounds; a leak grows with the requests,
    # tens of thousands of them here.
    for pid, rss in end.rss_kib.items():
        assert rss < settled.rss_kib[pid] * 1.10, (pid, settled.rss_kib[pid], rss)
        assert end.fds[pid] <= settled.fds[pid] + SLACK, (pid, settled.fds[pid], end.fds[pid])
    assert end.postgres <= settled.postgres + SLACK, (settled.postgres, end.postgres)
    assert end.redis <= settled.redis + SLACK, (settled.redis, end.redis)
    growth = {pid: end.rss_kib[pid] / settled.rss_kib[pid] - 1 for pid in end.rss_kib}
    print(
        f"\nsoak: {len(tally.outcomes)} requests in {SOAK_SECONDS:.0f} s at {rate:.0f}/s "
        f"(capacity {capacity:.0f}/s), none failed; RSS after warm-up "
        f"{sorted(v // 1024 for v in settled.rss_kib.values())} MiB, growth "
        f"{sorted(round(g * 100, 1) for g in growth.values())} %; descriptors "
        f"{sorted(settled.fds.values())} -> {sorted(end.fds.values())}; PostgreSQL connections "
        f"{settled.postgres} -> {end.postgres}; Redis clients {settled.redis} -> {end.redis}"
    )
    await assert_invariants()
