"""Exactly one scheduler runs jobs: the Redis lease, the election between instances, failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from jobs.base import Job, JobContext, job
from jobs.lease import LEASE_KEY, LeaderLease
from jobs.scheduler import SchedulerService
from wxmember.core.context import Services

LEASE = 0.6


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["scheduler"] = {"enabled": False, "lease_seconds": LEASE, "shutdown_grace_seconds": 1}
    return settings


def counting_job(runs: list[str]) -> Job:
    @job(
        id="test.count",
        trigger=lambda config: IntervalTrigger(hours=1),
        coalesce=True,
        max_instances=1,
    )
    async def count(ctx: JobContext) -> None:
        runs.append("ran")

    return count


@pytest.fixture
async def instances(services: Services) -> AsyncIterator[Callable[..., SchedulerService]]:
    made: list[SchedulerService] = []

    def make(name: str, jobs: tuple[Job, ...] = ()) -> SchedulerService:
        service = SchedulerService(services, jobs, holder=name)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.stop()


async def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held (fails the test past `timeout`)."""
    started = time.monotonic()

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
    return time.monotonic() - started


async def lease_gone(services: Services) -> None:
    async def poll() -> None:
        while await services.redis.exists(LEASE_KEY):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10 * LEASE)


class TestLease:
    async def test_one_holder_compare_and_renew_and_release(self, services: Services) -> None:
        a = LeaderLease(services.redis, holder="a", seconds=30)
        b = LeaderLease(services.redis, holder="b", seconds=30)
        assert await a.acquire()
        assert await a.acquire()  # already ours: renewed
        assert not await b.acquire()
        assert not await b.renew()
        assert not await b.release()
        assert await a.held() and not await b.held()
        assert await a.release()
        assert await services.redis.get(LEASE_KEY) is None
        assert await b.acquire()
        assert not await a.renew(), "a lost lease can never be renewed over the new holder"
        assert await b.holder_now() == "b"

    async def test_the_lease_expires_when_not_renewed(self, services: Services) -> None:
        a = LeaderLease(services.redis, holder="a", seconds=LEASE)
        b = LeaderLease(services.redis, holder="b", seconds=LEASE)
        assert await a.acquire()
        assert 0 < await services.redis.pttl(LEASE_KEY) <= LEASE * 1000
        assert not await b.acquire()
        await lease_gone(services)
        assert await b.acquire()


class TestElection:
    async def test_one_leader_among_two(self, instances: Callable[..., SchedulerService]) -> None:
        a, b = instances("a"), instances("b")
        await a.start()
        await b.start()
        assert (a.leader, b.leader) == (True, False)
        assert a.scheduler.state == STATE_RUNNING
        assert b.scheduler.state == STATE_PAUSED
        await asyncio.sleep(LEASE)  # several renewals later nothing changed
        assert (a.leader, b.leader) == (True, False)
        assert await a.lease.holder_now() == "a"

    async def test_takeover_when_the_lease_ends(
        self, services: Services, instances: Callable[..., SchedulerService]
    ) -> None:
        """Step by step: while the dead leader's lease lasts nobody takes over; then at once."""
        a, b = instances("a"), instances("b")
        assert await a.tick()
        assert not await b.tick()
        # a dies: no more renewals
        while await services.redis.pttl(LEASE_KEY) > 50:
            assert not await b.tick()
            await asyncio.sleep(0.05)
        await lease_gone(services)
        assert await b.tick()
        assert b.leader
        # a comes back: its compare-and-renew fails and it steps down
        a.leader = True
        assert not await a.tick()
        assert not a.leader

    async def test_failover_within_the_lease_when_the_leader_stops_renewing(
        self, instances: Callable[..., SchedulerService]
    ) -> None:
        runs: list[str] = []
        a, b = instances("a", (counting_job(runs),)), instances("b", (counting_job(runs),))
        await a.start()
        await b.start()
        assert a.leader and not b.leader
        await a.stop(release=False)  # dies holding the lease
        elapsed = await wait_until(lambda: b.leader, timeout=10 * LEASE)
        # the lease runs out at most LEASE after a's last renewal; b looks every LEASE / 3
        assert elapsed <= LEASE + LEASE / 3 + 0.5
        assert b.scheduler.state == STATE_RUNNING
        assert await b.lease.holder_now() == "b"

    async def test_graceful_stop_hands_over_at_once(
        self, instances: Callable[..., SchedulerService]
    ) -> None:
        a, b = instances("a"), instances("b")
        await a.start()
        await b.start()
        await a.stop()  # releases the lease
        assert await b.tick()


class TestJobsRunOnlyOnTheLeader:
    async def test_a_follower_does_not_run_a_job(
        self, instances: Callable[..., SchedulerService]
    ) -> None:
        runs: list[str] = []
        spec = counting_job(runs)
        a, b = instances("a", (spec,)), instances("b", (spec,))
        await a.start()
        await b.start()
        await b.run_job(spec)  # as APScheduler would call it
        assert runs == []
        await a.run_job(spec)
        assert runs == ["ran"]

    async def test_the_lease_is_checked_when_the_job_starts(
        self, services: Services, instances: Callable[..., SchedulerService]
    ) -> None:
        runs: list[str] = []
        spec = counting_job(runs)
        a = instances("a", (spec,))
        await a.start()
        # a still believes it leads, but the lease is gone (expired, taken by another)
        await services.redis.set(LEASE_KEY, b"someone-else")
        await a.run_job(spec)
        assert runs == []
