"""Retention at the period's evaluation: downgrades, idempotence, resuming, the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from handlers.tiers.evaluation import BatchDone
from handlers.tiers.growth import add_growth, evaluate_tiers
from tests.support.processes import command_config, run_command
from tests.tiers.conftest import MemberIn
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models.members import Member
from wxmember.core.models.tier_history import EvaluationRun, TierChange
from wxmember.core.models.tiers import Tier

# 1 January 2026, 03:00 in Shanghai: the calendar year 2025 is due.
NEW_YEAR = datetime(2025, 12, 31, 19, 0, tzinfo=UTC)
MID_2025 = datetime(2025, 6, 15, 4, 0, tzinfo=UTC)


class Crash(Exception):
    """Stands for the process dying between two batches."""


@pytest.fixture
def grow(services: Services, clock: FrozenClock) -> Any:
    """Add growth to a member at a moment, then put the clock back to the evaluation."""
    counter = iter(range(1, 1_000_000))

    async def add(member: Member, amount: int, at: datetime = MID_2025) -> None:
        clock.set(at)
        await add_growth(
            services, member.id, amount, reason="purchase", idempotency_key=f"g{next(counter)}"
        )
        clock.set(NEW_YEAR)

    clock.set(NEW_YEAR)
    return add


async def _tier_names(*members: Member) -> list[str]:
    names = []
    for member in members:
        stored = await Member.get(id=member.id).prefetch_related("tier")
        assert stored.tier is not None
        names.append(stored.tier.name)
    return names


class TestEvaluateTiers:
    async def test_below_retention_moves_down_one_level(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        diamond, kept, short, silver, entry = [
            await member_in(t) for t in ("diamond", "gold", "gold", "silver", "entry")
        ]
        await grow(kept, 4000)
        await grow(short, 3999)
        report = await evaluate_tiers(services)
        assert (report.period_key, report.status) == ("calendar_year:2025-12-31", "finished")
        assert (report.checked, report.downgraded, report.skipped) == (4, 3, 0)
        assert await _tier_names(diamond, kept, short, silver, entry) == [
            "金卡会员",
            "金卡会员",
            "银卡会员",
            "普通会员",
            "普通会员",
        ]
        change = await TierChange.get(member_id=short.id)
        assert (change.reason, change.growth, change.period_key) == (
            "downgrade",
            3999,
            "calendar_year:2025-12-31",
        )
        assert change.created_at == NEW_YEAR
        assert (await Member.get(id=short.id)).card_version == short.card_version + 1
        assert (await Member.get(id=kept.id)).card_version == kept.card_version
        assert report.moves == {
            "钻石会员->金卡会员": 1,
            "金卡会员->银卡会员": 1,
            "银卡会员->普通会员": 1,
        }

    @pytest.mark.parametrize(
        ("max_levels", "growth", "expected"),
        [
            (3, 900, "银卡会员"),  # meets silver's retention (800)
            (3, 0, "普通会员"),
            (2, 0, "银卡会员"),
            (0, 0, "钻石会员"),  # downgrades switched off
        ],
    )
    async def test_at_most_max_downgrade_levels(
        self,
        services: Services,
        member_in: MemberIn,
        grow: Any,
        max_levels: int,
        growth: int,
        expected: str,
    ) -> None:
        services.config = services.config.replace(tiers={"max_downgrade_levels": max_levels})
        member = await member_in("diamond")
        if growth:
            await grow(member, growth)
        await evaluate_tiers(services)
        assert await _tier_names(member) == [expected]

    async def test_refund_below_the_threshold_is_judged_at_the_evaluation(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        member = await member_in()
        await grow(member, 6000)
        await grow(member, -3000)
        assert await _tier_names(member) == ["金卡会员"]
        await evaluate_tiers(services)
        assert await _tier_names(member) == ["银卡会员"]

    async def test_growth_after_the_period_does_not_count(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        member = await member_in("gold")
        await grow(member, 4500, at=datetime(2025, 12, 31, 16, 30, tzinfo=UTC))  # 00:30, 1 Jan
        await evaluate_tiers(services)
        assert await _tier_names(member) == ["银卡会员"]

    async def test_member_upgraded_after_the_period_closed_is_left_alone(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        member = await member_in("gold")
        await grow(member, 25000, at=datetime(2025, 12, 31, 16, 30, tzinfo=UTC))
        report = await evaluate_tiers(services)
        assert (report.checked, report.skipped, report.downgraded) == (0, 1, 0)
        assert await _tier_names(member) == ["钻石会员"]

    async def test_deleted_members_are_not_evaluated(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        member = await member_in("gold")
        await Member.filter(id=member.id).update(deleted_at=NEW_YEAR)
        report = await evaluate_tiers(services)
        assert report.checked == 0

    async def test_rolling_period_evaluates_the_last_twelve_months(
        self, services: Services, clock: FrozenClock, member_in: MemberIn, grow: Any
    ) -> None:
        services.config = services.config.replace(tiers={"period": "rolling_12_months"})
        left_window, in_window = await member_in("gold"), await member_in("gold")
        await grow(left_window, 4500, at=datetime(2024, 6, 20, 4, 0, tzinfo=UTC))
        await grow(in_window, 4500, at=datetime(2024, 7, 5, 4, 0, tzinfo=UTC))
        clock.set(datetime(2025, 7, 1, 2, 0, tzinfo=UTC))
        report = await evaluate_tiers(services)
        assert (report.period_start, report.period_end) == (date(2024, 7, 1), date(2025, 6, 30))
        assert await _tier_names(left_window, in_window) == ["银卡会员", "金卡会员"]


class TestIdempotence:
    async def test_running_twice_changes_nothing_more(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        members = [await member_in("gold") for _ in range(3)]
        first = await evaluate_tiers(services, batch_size=2)
        versions = [m.card_version for m in await Member.filter(id__in=[m.id for m in members])]
        second = await evaluate_tiers(services, batch_size=2)
        assert (first.status, first.downgraded, first.batches) == ("finished", 3, 2)
        assert (second.status, second.downgraded, second.batches) == ("already_finished", 3, 0)
        assert await TierChange.all().count() == 3
        after = [m.card_version for m in await Member.filter(id__in=[m.id for m in members])]
        assert after == versions
        assert await _tier_names(*members) == ["银卡会员"] * 3

    async def test_interrupted_run_resumes_after_its_cursor(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        members = [await member_in("gold") for _ in range(7)]
        kept = await member_in("gold")
        await grow(kept, 4000)

        async def crash_after_first_batch(done: BatchDone) -> None:
            raise Crash(f"killed after batch {done.batch}")

        with pytest.raises(Crash):
            await evaluate_tiers(services, batch_size=3, on_batch=crash_after_first_batch)
        run = await EvaluationRun.get(period_key="calendar_year:2025-12-31")
        assert (run.status, run.cursor, run.downgraded) == ("running", members[2].id, 3)
        assert await TierChange.all().count() == 3

        report = await evaluate_tiers(services, batch_size=3)
        assert (report.status, report.resumed_from) == ("finished", members[2].id)
        assert (report.checked, report.downgraded) == (8, 7)
        for member in members:
            assert await TierChange.filter(member_id=member.id).count() == 1
        assert await _tier_names(*members, kept) == ["银卡会员"] * 7 + ["金卡会员"]

    async def test_two_runners_at_once_share_the_work(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        members = [await member_in("diamond") for _ in range(9)]
        reports = await asyncio.gather(
            evaluate_tiers(services, batch_size=2), evaluate_tiers(services, batch_size=2)
        )
        assert [r.status for r in reports] == ["finished", "finished"]
        for member in members:
            assert await TierChange.filter(member_id=member.id).count() == 1
        assert await _tier_names(*members) == ["金卡会员"] * 9
        run = await EvaluationRun.get()
        assert (run.status, run.checked, run.downgraded) == ("finished", 9, 9)


class TestDryRun:
    async def test_dry_run_reports_and_changes_nothing(
        self, services: Services, member_in: MemberIn, grow: Any
    ) -> None:
        members = [await member_in("gold") for _ in range(3)]
        await grow(members[0], 4000)
        report = await evaluate_tiers(services, dry_run=True, batch_size=2)
        assert (report.dry_run, report.checked, report.downgraded) == (True, 3, 2)
        assert report.moves == {"金卡会员->银卡会员": 2}
        assert not await TierChange.exists() and not await EvaluationRun.exists()
        assert await _tier_names(*members) == ["金卡会员"] * 3


class TestArguments:
    @pytest.mark.parametrize(
        ("period_end", "batch_size", "code"),
        [
            (date(2025, 6, 30), 1000, "invalid_period_end"),
            (date(2026, 12, 31), 1000, "period_not_ended"),
            (None, 0, "invalid_batch_size"),
            (None, 10_001, "invalid_batch_size"),
        ],
    )
    async def test_refused(
        self,
        services: Services,
        grow: Any,
        ladder: dict[str, Tier],
        period_end: date | None,
        batch_size: int,
        code: str,
    ) -> None:
        with pytest.raises(ValidationFailed) as raised:
            await evaluate_tiers(services, period_end, batch_size=batch_size)
        assert raised.value.code == code

    async def test_rolling_period_must_end_on_a_month_end(
        self, services: Services, grow: Any, ladder: dict[str, Tier]
    ) -> None:
        services.config = services.config.replace(tiers={"period": "rolling_12_months"})
        with pytest.raises(ValidationFailed) as raised:
            await evaluate_tiers(services, date(2025, 6, 15))
        assert raised.value.code == "invalid_period_end"
        report = await evaluate_tiers(services, date(2025, 6, 30))
        assert report.period_key == "rolling_12_months:2025-06-30"


class TestCommand:
    async def test_evaluate_tiers_command(
        self,
        services: Services,
        settings: dict[str, Any],
        member_in: MemberIn,
        grow: Any,
        tmp_path: Path,
    ) -> None:
        member = await member_in("gold")
        config_file = command_config(settings, tmp_path)
        code, out, _ = await run_command(
            config_file, "evaluate-tiers", "--period-end", "2025-12-31", "--dry-run"
        )
        assert code == 0 and json.loads(out)["downgraded"] == 1
        assert await _tier_names(member) == ["金卡会员"]

        code, out, _ = await run_command(
            config_file, "evaluate-tiers", "--period-end", "2025-12-31"
        )
        assert (code, json.loads(out)["status"]) == (0, "finished")
        assert await _tier_names(member) == ["银卡会员"]
        code, out, _ = await run_command(
            config_file, "evaluate-tiers", "--period-end", "2025-12-31"
        )
        assert (code, json.loads(out)["status"]) == (0, "already_finished")

        code, _, err = await run_command(
            config_file, "evaluate-tiers", "--period-end", "2025-06-30"
        )
        assert code == 1 and "31 December" in err
        code, _, err = await run_command(
            config_file, "evaluate-tiers", "--period-end", "31/12/2025"
        )
        assert code == 2 and "YYYY-MM-DD" in err
