"""Stopping the scheduler always ends, wherever the lease loop is, and leaves Redis usable.

A cancellation that lands in a Redis call can be lost (Python 3.11's `asyncio.wait_for`, used by
redis-py for socket writes, returns the result instead of raising when the cancellation arrives as
the write completes); a lease loop that relied on being cancelled then kept renewing forever and
`stop()` waited on it forever. These tests stop the service at every point of a renewal, and with
a renewal that never ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from jobs.lease import LEASE_KEY, LeaderLease
from jobs.scheduler import SchedulerService
from wxmember.core.context import Services

LEASE = 0.6
# A healthy stop() takes a few milliseconds; far below the bound it gives each of its steps.
PROMPT = 3.0


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["scheduler"] = {"enabled": False, "lease_seconds": LEASE, "shutdown_grace_seconds": 1}
    return settings


@pytest.fixture
async def instances(services: Services) -> AsyncIterator[Callable[[str], SchedulerService]]:
    made: list[SchedulerService] = []

    def make(name: str) -> SchedulerService:
        service = SchedulerService(services, (), holder=name)
        made.append(service)
        return service

    yield make
    for service in made:
        stopping = asyncio.create_task(service.stop())
        await asyncio.wait({stopping}, timeout=PROMPT)
        # Should stop() not end, its lease loop is cancelled until it does: a failed test then
        # fails instead of hanging in its teardown.
        while not stopping.done():
            for loop in lease_loops():
                loop.cancel()
            await asyncio.wait({stopping}, timeout=0.5)


def lease_loops() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "scheduler-lease" and not t.done()]


async def stop_within(service: SchedulerService, seconds: float, **kwargs: Any) -> float:
    """Seconds stop() took; fails (instead of waiting on) a stop() that does not end in time."""
    started = time.monotonic()
    stopping = asyncio.create_task(service.stop(**kwargs))
    await asyncio.wait({stopping}, timeout=seconds)
    assert stopping.done(), f"stop() still waiting after {seconds}s"
    stopping.result()
    return time.monotonic() - started


async def redis_answers(services: Services) -> None:
    """A later call on the same client works (no connection left half-read or watching)."""
    async with asyncio.timeout(PROMPT):
        await services.redis.set("probe", b"1")
        assert await services.redis.get("probe") == b"1"
        await services.redis.delete("probe")


def spy_on(
    lease: LeaderLease, method: str, instead: Callable[[], Awaitable[bool]] | None = None
) -> asyncio.Event:
    """Wrap `lease.<method>` (or put `instead` in its place); the event is set as a call begins."""
    began = asyncio.Event()
    call: Callable[[], Awaitable[bool]] = instead or getattr(lease, method)

    async def spy() -> bool:
        began.set()
        return await call()

    setattr(lease, method, spy)
    return began


class TestStopDuringARenewal:
    @pytest.mark.parametrize("release", [True, False])
    async def test_stop_at_every_point_of_a_renewal(
        self,
        services: Services,
        instances: Callable[[str], SchedulerService],
        release: bool,
    ) -> None:
        for turns in range(16):
            service = instances(f"leader-{turns}")
            service.stop_step_seconds = 60  # so only the loop ending by itself is prompt
            await service.start()
            assert service.leader
            began = spy_on(service.lease, "renew")
            await began.wait()  # the lease loop is renewing now
            for _ in range(turns):
                await asyncio.sleep(0)

            assert await stop_within(service, PROMPT, release=release) < PROMPT
            assert lease_loops() == [], "the lease loop ended with stop()"
            assert not service.leader
            await redis_answers(services)
            if release:
                assert await services.redis.get(LEASE_KEY) is None, "released at once"
            else:  # left to expire, as a crashed process would
                assert await service.lease.holder_now() == service.lease.holder
                assert 0 < await services.redis.pttl(LEASE_KEY) <= LEASE * 1000
                await services.redis.delete(LEASE_KEY)

    async def test_a_follower_stopped_while_taking_the_lease_does_not_keep_it(
        self, services: Services, instances: Callable[[str], SchedulerService]
    ) -> None:
        """A take-over under way when stop() begins leaves no lease to a stopped process."""
        for turns in range(16):
            assert await LeaderLease(services.redis, holder="other", seconds=30).acquire()
            service = instances(f"follower-{turns}")
            service.stop_step_seconds = 60
            await service.start()
            assert not service.leader
            began = spy_on(service.lease, "acquire")
            await services.redis.delete(LEASE_KEY)  # the other holder is gone
            await began.wait()  # the follower's next round takes the lease now
            for _ in range(turns):
                await asyncio.sleep(0)

            await stop_within(service, PROMPT)
            assert lease_loops() == []
            assert not service.leader
            assert await services.redis.get(LEASE_KEY) is None
            await redis_answers(services)


class TestStopWhenRedisDoesNotAnswer:
    async def test_a_renewal_that_never_ends_is_given_up_on(
        self,
        services: Services,
        instances: Callable[[str], SchedulerService],
        log_lines: Callable[[], str],
    ) -> None:
        """Redis stalls mid-renewal and the cancellation is lost: stop() still ends, in bounds."""
        service = instances("stalled")
        service.stop_step_seconds = 0.3
        await service.start()
        assert service.leader
        unblock = asyncio.Event()

        async def stalled() -> bool:
            while not unblock.is_set():
                try:
                    await unblock.wait()
                except asyncio.CancelledError:
                    continue  # lost, as inside the client library
            return True

        began = spy_on(service.lease, "renew", instead=stalled)
        await began.wait()
        try:
            # the bound on the lease loop, the moment its cancellation is given, the release
            took = await stop_within(service, 0.3 + 1.0 + PROMPT)
            assert took >= 0.3
            assert "shutdown step did not finish in time" in log_lines()
            assert "scheduler lease loop" in log_lines()
            assert not service.leader
            assert await services.redis.get(LEASE_KEY) is None, "released all the same"
            await redis_answers(services)
            [left_behind] = lease_loops()
        finally:
            unblock.set()

        # the renewal left behind ends when Redis answers; it does not take the lease back
        async with asyncio.timeout(PROMPT):
            await left_behind
        assert not service.leader
        assert await services.redis.get(LEASE_KEY) is None


class TestLeaseOperationsCancelledMidway:
    @pytest.mark.parametrize("operation", ["renew", "release", "acquire"])
    async def test_the_connection_is_given_back_clean(
        self, services: Services, operation: str
    ) -> None:
        """Cancelled at any point, a lease call leaves no unread reply and no WATCH behind."""
        mine = LeaderLease(services.redis, holder="mine", seconds=30)
        other = LeaderLease(services.redis, holder="other", seconds=30)
        for turns in range(24):
            await services.redis.delete(LEASE_KEY)
            assert await (other if operation == "acquire" else mine).acquire()
            call = asyncio.create_task(getattr(mine, operation)())
            for _ in range(turns):
                await asyncio.sleep(0)
            call.cancel()
            await asyncio.wait({call}, timeout=PROMPT)
            assert call.done()  # cancelled, or finished if the cancellation came too late

            await redis_answers(services)
            # the key changes; a WATCH left on a pooled connection would fail the next renewal
            await services.redis.set(LEASE_KEY, b"mine", px=30_000)
            assert await mine.renew()
            assert await mine.held()
            assert await mine.release()
            assert await services.redis.get(LEASE_KEY) is None
