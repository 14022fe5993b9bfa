"""Housekeeping jobs: points expiry, coupon expiry marking, tier evaluation after a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers import points
from jobs.base import JobContext
from jobs.maintenance import evaluate_closed_period, expire_coupons, expire_points
from tests.factories import create_member
from tests.reminders.kit import coupon_template, give_coupon
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member
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
