"""Housekeeping jobs: points expiry, coupon expiry marking, tier evaluation after a period."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from handlers import points
from jobs.base import JobContext
from jobs.maintenance import (
    evaluate_closed_period,
    expire_coupons,
    expire_points,
    prune_expired_rows,
)
from tests.factories import create_member
from tests.reminders.kit import coupon_template, give_coupon
from wxmember.core.clock import FrozenClock
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.points import PointsLot
from wxmember.core.models.tier_history import EvaluationRun

NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


@pytest.fixture
def ctx(services: Services) -> JobContext:
    services.clock = FrozenClock(NOW)

    async def never() -> bool:
        return False

    return JobContext(services, never)


class TestPointsExpiry:
    async def test_expires_lots_past_their_date(self, ctx: JobContext) -> None:
        member = await create_member()
        services = ctx.services
        for key, expires in (("old", NOW - timedelta(seconds=1)), ("new", NOW + timedelta(days=1))):
            await points.earn(
                services, member.id, 10, reason="test", idempotency_key=key, expires_at=expires
            )
        await expire_points(ctx)
        lots = await PointsLot.filter(member_id=member.id).order_by("expires_at")
        assert [lot.remaining for lot in lots] == [0, 10]
        assert (await Member.get(id=member.id)).points_balance == 10


class TestCouponExpiry:
    async def test_marks_unused_coupons_past_validity(self, ctx: JobContext) -> None:
        member = await create_member()
        template = await coupon_template()
        past = await give_coupon(member, template, NOW - timedelta(minutes=1))
        live = await give_coupon(member, template, NOW + timedelta(days=1))
        await expire_coupons(ctx)
        assert (await Coupon.get(id=past.id)).status == "expired"
        assert (await Coupon.get(id=live.id)).status == "unused"


class TestTierEvaluation:
    async def test_judges_the_period_just_closed_once(self, ctx: JobContext) -> None:
        await evaluate_closed_period(ctx)
        await evaluate_closed_period(ctx)
        runs = await EvaluationRun.all()
        assert [(run.period_key, run.status) for run in runs] == [
            ("calendar_year:2025-12-31", "finished")
        ]


class TestRetention:
    async def test_prunes_the_rows_past_their_lifetime_and_logs_the_counts(
        self, ctx: JobContext, log_lines: Callable[[], str]
    ) -> None:
        for age in (366, 364):
            entry = await AuditEntry.create(actor="owner", action="x", target_type="t")
            await AuditEntry.filter(id=entry.id).update(created_at=NOW - timedelta(days=age))
        await prune_expired_rows(ctx)
        assert await AuditEntry.all().count() == 1
        logged = [json.loads(line) for line in log_lines().splitlines()]
        [entry] = [line for line in logged if line.get("msg") == "retention pruned"]
        assert entry["audit_log"] == 1 and entry["reminder_deliveries"] == 0

    def test_runs_once_a_day_before_dawn_in_the_brands_zone(self, config: Config) -> None:
        trigger = prune_expired_rows.trigger(config)
        fire = trigger.get_next_fire_time(None, NOW).astimezone(config.brand.tz)
        assert (fire.hour, fire.minute) == (4, 40)
