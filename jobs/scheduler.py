"""The scheduler: APScheduler's AsyncIOScheduler, run only by the leader among processes.

`SchedulerService` is started by the app's cleanup context (the embedded default, with
`scheduler.enabled`) or alone by `wxmember scheduler`. Several may run against one Redis: each
starts its scheduler paused and competes for the leader lease (jobs/lease.py) every
`lease_seconds / 3`. The holder renews and runs jobs; the others stay paused and take over
within the lease when the holder stops renewing. A deposed leader pauses at once, and every job
checks the lease again when it starts. Job stores are in memory: nothing of a schedule is shared
between processes, only the lease.

Runs missed while paused (not the leader) or while the event loop was held up are coalesced:
each job runs once on resuming, not once per missed slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from jobs import maintenance, reminders
from jobs.base import Job, JobContext
from jobs.lease import LeaderLease, process_holder_id
from wxmember.core import keys
from wxmember.core.context import Services

log = logging.getLogger(__name__)

ALL_JOBS: tuple[Job, ...] = (
    reminders.send_due_reminders,
    maintenance.expire_points,
    maintenance.expire_coupons,
    maintenance.evaluate_closed_period,
)


def build_scheduler(timezone: str) -> AsyncIOScheduler:
    """An AsyncIOScheduler in the brand's time zone (jobs bring their own settings)."""
    return AsyncIOScheduler(timezone=timezone)


class SchedulerService:
    """One process's scheduler and its part in the leader election."""

    def __init__(
        self, services: Services, jobs: Sequence[Job] = ALL_JOBS, *, holder: str | None = None
    ) -> None:
        config = services.config
        self.services = services
        self.jobs = tuple(jobs)
        self.scheduler = build_scheduler(config.brand.timezone)
        self.lease = LeaderLease(
            services.redis,
            holder=holder or process_holder_id(),
            seconds=config.scheduler.lease_seconds,
        )
        self.leader = False
        self._grace = config.scheduler.shutdown_grace_seconds
        self._stopping = asyncio.Event()
        self._lease_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        """Add the jobs, start paused, and take part in the election."""
        for spec in self.jobs:
            self.scheduler.add_job(
                self.run_job,
                spec.trigger(self.services.config),
                args=[spec],
                id=spec.id,
                name=spec.id,
                coalesce=spec.coalesce,
                max_instances=spec.max_instances,
                misfire_grace_time=spec.misfire_grace_time,
                replace_existing=True,
            )
        self.scheduler.start(paused=True)
        await self.tick()
        self._lease_task = asyncio.create_task(self._lease_loop(), name="scheduler-lease")

    async def tick(self) -> bool:
        """One round of the election: renew if leader, else try to take the lease."""
        try:
            held = await (self.lease.renew() if self.leader else self.lease.acquire())
        except (RedisError, OSError) as exc:
            log.warning("scheduler lease unreachable", extra={"error": repr(exc)})
            held = False
        if held and not self.leader:
            self.leader = True
            if self.scheduler.running:
                self.scheduler.resume()
            log.info("scheduler leader", extra={"holder": self.lease.holder})
        elif not held and self.leader:
            self.leader = False
            if self.scheduler.running:
                self.scheduler.pause()
            log.warning("scheduler lease lost", extra={"holder": self.lease.holder})
        return held

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease.seconds / 3)
            await self.tick()

    async def should_stop(self) -> bool:
        """Long jobs ask this between units of work."""
        return self._stopping.is_set() or not self.leader

    async def run_job(self, spec: Job) -> None:
        """What APScheduler calls: the job, if this process still holds the lease."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            if self._stopping.is_set() or not await self._holds_lease():
                log.info("job not run: not the leader", extra={"job": spec.id})
                return
            await spec(JobContext(self.services, self.should_stop))
        except Exception:
            log.exception("job failed", extra={"job": spec.id})
        finally:
            if task is not None:
                self._running.discard(task)

    async def _holds_lease(self) -> bool:
        try:
            return await self.lease.held()
        except (RedisError, OSError):
            return False

    async def stop(self, *, release: bool = True) -> None:
        """Stop electing and scheduling; running jobs get the grace period, then are cancelled.

        `release=False` leaves the lease to expire, as a crashed process would.
        """
        self._stopping.set()
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
            self._lease_task = None
        if self._running and self._grace:
            await asyncio.wait(set(self._running), timeout=self._grace)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for _ in range(2):  # the shutdown itself runs on the loop's next turn
            await asyncio.sleep(0)
        leftover = [task for task in self._running if not task.done()]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        if release and self.leader:
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()
        self.leader = False


SCHEDULER = web.AppKey("scheduler", SchedulerService)


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """The scheduler for the life of the app; needs the services (after services_ctx)."""
    service = SchedulerService(app[keys.SERVICES])
    app[SCHEDULER] = service
    await service.start()
    try:
        yield
    finally:
        await service.stop()
