"""The dashboard's daily figures: what a day counts, storing it again, filling missing days."""

from __future__ import annotations

from typing import Any

import pytest

import handlers.dashboard.figures
from handlers.dashboard import backfill, figures_of, store_day, today_figures
from jobs.base import JobContext
from jobs.maintenance import store_dashboard_days
from tests.dashboard.conftest import DAYS, TODAY
from tests.dashboard.kit import Brand, direct, figures
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.dashboard import DashboardDay


class TestADay:
    async def test_each_days_figures_equal_a_direct_count(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        rows = await DashboardDay.all().order_by("day")
        assert [row.day for row in rows] == DAYS
        for row in rows:
            assert figures(row) == await direct(services, row.day), row.day

    async def test_the_days_have_the_shape_of_the_activity(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        first, second, third, quiet = await DashboardDay.all().order_by("day")
        assert (first.members, second.members, third.members, quiet.members) == (3, 4, 3, 3)
        assert second.active_members == 3 and second.checkins == 2
        assert (second.coupons_claimed, second.mall_redemptions) == (3, 1)  # 2 claims + mall
        assert third.points_expired == 30 and third.coupons_redeemed == 1
        assert third.closed_cards == 1
        assert third.reminders == {"sent": 2, "skipped": 1}
        assert (first.followers, third.followers, third.unfollows) == (1, 1, 1)
        assert quiet.active_members == quiet.checkins == quiet.points_issued == 0
        assert quiet.points_liability == third.points_liability

    async def test_today_is_counted_live_on_top_of_the_stored_days(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        today = await today_figures(services)
        assert today.day == TODAY and today.id is None  # not stored
        assert figures(today) == await direct(services, TODAY)
        assert await DashboardDay.filter(day=TODAY).count() == 0

    async def test_members_per_tier_add_up_to_the_card_holders(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        today = await today_figures(services)
        assert sum(today.tiers.values()) == today.members == 4
        live = await Member.filter(card_no__isnull=False).values_list("tier_id", flat=True)
        assert today.tiers == {str(t): list(live).count(t) for t in set(live)}
        balances: list[Any] = await Member.all().values_list("points_balance", flat=True)
        assert today.points_liability == sum(balances)

    async def test_without_stored_days_a_day_is_counted_from_the_first_record(
        self, brand: Brand, services: Services
    ) -> None:
        assert figures(await figures_of(services, DAYS[3])) == await direct(services, DAYS[3])


class TestLocalDays:
    async def test_the_day_turns_at_local_midnight(self, brand: Brand, services: Services) -> None:
        # Cards at 23:59:59 on 1 March and 00:00:01 on 2 March (Shanghai), 15:59:59 and
        # 16:00:01 UTC on 1 March.
        await backfill(services)
        first, second = await DashboardDay.filter(day__in=DAYS[:2]).order_by("day")
        assert (first.new_cards, second.new_cards) == (3, 1)


class TestStoringADayAgain:
    async def test_replaces_its_row_with_the_same_figures(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        before = figures(await DashboardDay.get(day=DAYS[1]))
        await store_day(services, DAYS[1])
        await store_day(services, DAYS[1])
        assert await DashboardDay.filter(day=DAYS[1]).count() == 1
        assert figures(await DashboardDay.get(day=DAYS[1])) == before

    async def test_a_later_day_is_the_same_whether_stored_in_order_or_again(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        stored = [figures(row) for row in await DashboardDay.all().order_by("day")]
        for day in reversed(DAYS):
            await store_day(services, day)
        assert [figures(row) for row in await DashboardDay.all().order_by("day")] == stored


class TestBackfill:
    async def test_fills_every_day_from_the_first_members_to_yesterday_once(
        self, brand: Brand, services: Services
    ) -> None:
        report = await backfill(services)
        assert (report.stored, report.first, report.last) == (4, DAYS[0], DAYS[-1])
        again = await backfill(services)
        assert again.stored == 0 and not again.stopped
        assert await DashboardDay.all().count() == 4

    async def test_fills_a_day_missing_between_stored_days(
        self, brand: Brand, services: Services
    ) -> None:
        await backfill(services)
        before = figures(await DashboardDay.get(day=DAYS[2]))
        await DashboardDay.filter(day=DAYS[2]).delete()
        assert (await backfill(services)).stored == 1
        assert figures(await DashboardDay.get(day=DAYS[2])) == before

    async def test_a_run_that_crashes_mid_way_is_resumed_by_the_next(
        self, brand: Brand, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        counted = handlers.dashboard.figures.changes

        async def crash_on_the_third_day(*args: Any, **kwargs: Any) -> Any:
            if args[2] == DAYS[2]:
                raise RuntimeError("the process died")
            return await counted(*args, **kwargs)

        monkeypatch.setattr(handlers.dashboard.figures, "changes", crash_on_the_third_day)
        with pytest.raises(RuntimeError):
            await backfill(services)
        assert await DashboardDay.all().order_by("day").values_list("day", flat=True) == DAYS[:2]
        monkeypatch.setattr(handlers.dashboard.figures, "changes", counted)
        report = await backfill(services)
        assert (report.stored, report.first, report.last) == (2, DAYS[0], DAYS[-1])
        for row in await DashboardDay.all().order_by("day"):
            assert figures(row) == await direct(services, row.day), row.day

    async def test_a_run_asked_to_stop_keeps_the_days_it_stored(
        self, brand: Brand, services: Services
    ) -> None:
        asked = 0

        async def stop_after_two() -> bool:
            nonlocal asked
            asked += 1
            return asked > 2

        report = await backfill(services, should_stop=stop_after_two)
        assert report.stopped and report.stored == 2
        assert (await backfill(services)).stored == 2

    async def test_nothing_to_fill_without_members(self, client: Any, services: Services) -> None:
        report = await backfill(services)
        assert (report.stored, report.first) == (0, None)


class TestJob:
    async def test_the_scheduled_job_stores_the_ended_days(
        self, brand: Brand, services: Services
    ) -> None:
        async def keep_going() -> bool:
            return False

        await store_dashboard_days(JobContext(services, keep_going))
        days = await DashboardDay.all().order_by("day").values_list("day", flat=True)
        assert days == DAYS
