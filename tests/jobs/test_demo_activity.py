"""The demo's days of activity: a history through the handlers, its dashboard days, seeded once.

Run here at a smaller size than the demo's (members and days), with the demo brand's seeds
before it, as `wxmember demo` runs them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from wxmember.core.context import Services
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.dashboard import DashboardDay
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.pos import Purchase
from wxmember.core.models.reminders import ReminderDelivery
from wxmember.demo import SEEDS, activity


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity, "MEMBERS", 40)
    monkeypatch.setattr(activity, "DAYS", 20)


async def _counts() -> dict[str, int]:
    return {
        "members": await Member.filter(openid__startswith="demo-act-").count(),
        "checkins": await Checkin.all().count(),
        "purchases": await Purchase.all().count(),
        "coupons": await Coupon.all().count(),
        "entries": await PointsEntry.all().count(),
        "deliveries": await ReminderDelivery.all().count(),
        "days": await DashboardDay.all().count(),
    }


class TestDemoActivity:
    async def test_a_history_of_past_days_with_its_dashboard_days_seeded_once(
        self, client: TestClient, services: Services, small: None
    ) -> None:
        for seed in SEEDS:
            await seed(services)
        counts = await _counts()
        assert 30 <= counts["members"] <= 40  # those planned for later today are not yet
        assert counts["checkins"] and counts["purchases"] and counts["coupons"]
        today = local_today(services)
        tz = services.config.brand.tz
        opened = [m.card_opened_at for m in await Member.filter(openid__startswith="demo-act-")]
        days = {moment.astimezone(tz).date() for moment in opened if moment is not None}
        assert min(days) >= today - timedelta(days=20) and len(days) > 5  # over time
        assert None not in opened
        assert max(moment for moment in opened if moment is not None) <= services.clock.now()
        checkin_days: set[Any] = set(await Checkin.all().values_list("day", flat=True))
        assert len(checkin_days) > 5 and max(checkin_days) <= today
        stored: list[Any] = await DashboardDay.all().order_by("day").values_list("day", flat=True)
        assert stored[0] == min(days) and stored[-1] == today - timedelta(days=1)
        assert len(stored) == (stored[-1] - stored[0]).days + 1
        for seed in SEEDS:  # a second start adds nothing
            await seed(services)
        assert await _counts() == counts
