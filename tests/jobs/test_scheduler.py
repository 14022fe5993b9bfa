"""The scheduler's jobs: declarations, misfire coalescing, the app's cleanup context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.triggers.interval import IntervalTrigger

from jobs.base import Job, JobContext, job
from jobs.reminders import send_due_reminders
from jobs.scheduler import ALL_JOBS, SCHEDULER, SchedulerService
from tests.factories import create_member
from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.clock import FrozenClock
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.reminders import ReminderDelivery
from wxmember.core.models.subscriptions import SubscribeGrant


@pytest.fixture
async def service(services: Services) -> AsyncIterator[SchedulerService]:
    started: list[SchedulerService] = []

    async def start(jobs: tuple[Job, ...]) -> SchedulerService:
        instance = SchedulerService(services, jobs, holder="test")
        await instance.start()
        started.append(instance)
        return instance

    yield start  # type: ignore[misc]
    for instance in started:
        await instance.stop()


def record_events(scheduler: Any) -> list[Any]:
    events: list[Any] = []
    scheduler.add_listener(
        events.append, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    return events


async def until_done(events: list[Any], count: int) -> None:
    async def poll() -> None:
        while sum(e.code in (EVENT_JOB_EXECUTED, EVENT_JOB_ERROR) for e in events) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10)


class TestDeclarations:
    def test_every_job_declares_id_trigger_coalesce_and_one_instance(self, config: Config) -> None:
        ids = [spec.id for spec in ALL_JOBS]
        assert ids == [
            "reminders.send_due",
            "campaigns.run",
            "points.expire",
            "coupons.expire",
            "tiers.evaluate",
            "dashboard.days",
            "rfm.daily",
            "retention.prune",
            "partitions.ahead",
            "benefits.birthday",
            "benefits.monthly",
            "wallet_card.sync",
        ]
        for spec in ALL_JOBS:
            assert spec.coalesce is True and spec.max_instances == 1
            assert spec.trigger(config).get_next_fire_time(None, datetime.now(UTC)) is not None

    async def test_the_scheduler_runs_them_as_declared(self, service: Any) -> None:
        instance = await service(ALL_JOBS)
        scheduled = {j.id: j for j in instance.scheduler.get_jobs()}
        assert set(scheduled) == {spec.id for spec in ALL_JOBS}
        for spec in ALL_JOBS:
            assert scheduled[spec.id].coalesce is True
            assert scheduled[spec.id].max_instances == 1
        minute = scheduled["reminders.send_due"].next_run_time
        assert minute.second == 0 and minute - datetime.now(UTC) <= timedelta(minutes=1)


class TestMisfires:
    async def test_runs_missed_over_several_intervals_run_once(self, service: Any) -> None:
        runs: list[datetime] = []

        @job(
            id="test.every_minute",
            trigger=lambda config: IntervalTrigger(minutes=1),
            coalesce=True,
            max_instances=1,
        )
        async def every_minute(ctx: JobContext) -> None:
            runs.append(datetime.now(UTC))

        instance = await service((every_minute,))
        events = record_events(instance.scheduler)
        instance.scheduler.pause()  # as while down, or while another process led
        missed = datetime.now(UTC) - timedelta(minutes=5, seconds=30)
        instance.scheduler.modify_job("test.every_minute", next_run_time=missed)
        instance.scheduler.resume()
        await until_done(events, 1)
        await asyncio.sleep(0.2)
        assert len(runs) == 1
        [submitted] = [e for e in events if e.code == EVENT_JOB_SUBMITTED]
        assert len(submitted.scheduled_run_times) == 1  # six slots passed, one run
        next_run = instance.scheduler.get_job("test.every_minute").next_run_time
        assert next_run > datetime.now(UTC)

    async def test_the_reminder_minute_after_downtime_sends_once(
        self,
        service: Any,
        services: Services,
        fake_wechat: FakeWeChat,
        client: TestClient,
        login_as: Any,
    ) -> None:
        """The real job, its rule created while the scheduler runs: no restart needed."""
        services.clock = FrozenClock(datetime(2026, 5, 17, 9, 0, tzinfo=UTC))
        instance = await service((send_due_reminders,))
        events = record_events(instance.scheduler)
        headers = await login_as("operator")
        fake_wechat.register_subscribe_template("tpl-b", ["name1"])
        response = await client.post(
            "/admin/api/v1/reminder-rules",
            json={
                "name": "生日",
                "kind": "birthday",
                "send_time": "08:00",
                "days_before": 0,
                "channel": "miniapp_subscribe",
                "template_id": "tpl-b",
                "mapping": {"name1": "member_name"},
            },
            headers=headers,
        )
        assert response.status == 201
        member = await create_member(birthday=date(1990, 5, 17))
        await SubscribeGrant.create(member=member, template_id="tpl-b", remaining=5)
        fake_wechat.grant_subscription(member.openid or "", "tpl-b", 5)
        instance.scheduler.pause()
        missed = datetime.now(UTC) - timedelta(minutes=10)
        instance.scheduler.modify_job("reminders.send_due", next_run_time=missed)
        instance.scheduler.resume()
        await until_done(events, 1)
        # The missed slots run once; a run of the next wall-clock minute may follow, sending none.
        assert [e.code for e in events[:2]] == [EVENT_JOB_SUBMITTED, EVENT_JOB_EXECUTED]
        assert len(events[0].scheduled_run_times) == 1
        assert len(fake_wechat.sent) == 1
        assert await ReminderDelivery.filter(state="sent").count() == 1


class TestAppContext:
    async def test_the_app_runs_a_leading_scheduler_and_stops_it(self, config: Config) -> None:
        app = create_app(config.replace(scheduler={"enabled": True, "lease_seconds": 5}))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/healthz")).status == 200
            scheduler = app[SCHEDULER]
            assert scheduler.leader
            assert {j.id for j in scheduler.scheduler.get_jobs()} == {s.id for s in ALL_JOBS}
            redis = app[keys.REDIS]
            assert await redis.get("wxmember:scheduler:leader") == scheduler.lease.holder.encode()
        assert not scheduler.scheduler.running
        assert not scheduler.leader
