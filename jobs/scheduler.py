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

`stop()` never waits without a bound: the lease loop is asked to end at its next turn and only
cancelled if it has not within `STOP_STEP_SECONDS` (a cancellation alone can be lost inside the
Redis client, see wxmember.core.shutdown), running jobs get the grace period, and the APScheduler
shutdown, the cancelled jobs and the release of the lease each get `STOP_STEP_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from jobs import benefits, campaigns, maintenance, reminders, wallet_card
from jobs.base import Job, JobContext
from jobs.lease import LeaderLease, process_holder_id
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.shutdown import bounded

log = logging.getLogger(__name__)

# The longest stop() waits for any one of its steps (a Redis call takes milliseconds).
STOP_STEP_SECONDS = 5.0

ALL_JOBS: tuple[Job, ...] = (
    reminders.send_due_reminders,
    campaigns.run_campaigns,
    maintenance.expire_points,
    maintenance.expire_coupons,
    maintenance.evaluate_closed_period,
    maintenance.store_dashboard_days,
    maintenance.score_rfm,
    maintenance.prune_expired_rows,
    maintenance.make_partitions_ahead,
    benefits.pay_tier_birthday_gifts,
    benefits.pay_tier_monthly_coupons,
    wallet_card.sync_wallet_cards,
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
        self.stop_step_seconds = STOP_STEP_SECONDS
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
        if held and not self.leader and self._stopping.is_set():
            # Taken by a round that was under way when stop() began: handed straight back.
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()
            return False
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
        """A round of the election every `lease_seconds / 3`, until stop() asks it to end.

        It waits on `_stopping` rather than sleeping, and ends by itself at its next turn once that
        is set, whether or not a cancellation reaches it.
        """
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease.seconds / 3):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
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

        Returns within the grace period plus a few `stop_step_seconds` whatever Redis and the
        jobs do. The lease is released after the lease loop has ended (or been given up on), so
        a round of the election under way does not take it back. `release=False` leaves the
        lease to expire, as a crashed process would.
        """
        self._stopping.set()
        step = self.stop_step_seconds
        if self._lease_task is not None:
            lease_loop, self._lease_task = self._lease_task, None
            try:
                await bounded(lease_loop, step, "scheduler lease loop")
            except Exception:
                log.exception("scheduler lease loop failed")
        if self._running and self._grace:
            await asyncio.wait(set(self._running), timeout=self._grace)
        await self._shutdown_scheduler(step)
        leftover = [task for task in self._running if not task.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            await bounded(asyncio.gather(*leftover, return_exceptions=True), step, "cancelled jobs")
        if release and self.leader:
            with contextlib.suppress(RedisError, OSError):
                await bounded(self.lease.release(), step, "scheduler lease release")
        self.leader = False

    async def _shutdown_scheduler(self, seconds: float) -> None:
        """Shut APScheduler down and wait (bounded) until it has: it does so on a later turn."""
        if not self.scheduler.running:
            return
        self.scheduler.shutdown(wait=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        await asyncio.sleep(0)
        while self.scheduler.running and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self.scheduler.running:
            log.warning("scheduler shutdown did not finish in time", extra={"seconds": seconds})
        await asyncio.sleep(0)  # the jobs it cancelled see their cancellation


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
