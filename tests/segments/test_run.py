"""The daily RFM run: quintiles, refunds, the window, the ten segments, idempotence, resuming,
the set-based result against a Python reference, the monthly snapshot, the job.
"""

from __future__ import annotations

import json
import random
from dataclasses import astuple
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.members.account import delete_account
from handlers.operators.accounts import create_operator
from handlers.segments import (
    Cuts,
    RfmSettingsBody,
    label,
    monthly_sizes,
    movement,
    run_rfm,
    save_settings,
    sizes_now,
)
from handlers.segments.run import BatchDone
from jobs.base import JobContext
from jobs.maintenance import score_rfm
from tests.segments.kit import AS_OF, TODAY, History, reference
from tests.support.localtime import local
from tests.support.processes import command_config, run_command
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import Operator, Role
from wxmember.core.models.members import Member
from wxmember.core.models.segments import MemberRfm, RfmMonth, RfmRun


class Crash(Exception):
    """Stands for the process dying between two batches."""


async def _rows() -> dict[int, tuple[Any, ...]]:
    return {
        row.member_id: (
            row.recency_days,
            row.frequency,
            row.monetary_fen,
            row.r_score,
            row.f_score,
            row.m_score,
            row.segment,
        )
        for row in await MemberRfm.all()
    }


async def _full_rows() -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in await MemberRfm.all()
        .order_by("member_id")
        .values(
            "member_id",
            "recency_days",
            "frequency",
            "monetary_fen",
            "r_score",
            "f_score",
            "m_score",
            "segment",
            "first_purchase_at",
            "last_purchase_at",
            "computed_on",
        )
    ]


async def _owner() -> Operator:
    return await create_operator("rfm-owner", "correct-horse-battery", Role.OWNER)


THRESHOLDS = {
    "recency_days": [30, 60, 90, 180],
    "frequency": [2, 3, 5, 8],
    "monetary_fen": [10_000, 30_000, 50_000, 100_000],
}


async def _use_thresholds(services: Services) -> None:
    body = RfmSettingsBody.model_validate({"mode": "thresholds", "thresholds": THRESHOLDS})
    await save_settings(services, await _owner(), body)


def _days_ago(days: int, hour: int = 12) -> Any:
    moment = AS_OF - timedelta(days=days)
    return moment.replace(hour=hour)


class TestQuintiles:
    async def test_ten_buyers_fall_into_five_scores_of_two_each(
        self, services: Services, history: History
    ) -> None:
        # Buyer i buys i times for 100·i fen each, the last time on i May: recency 46 - i days,
        # frequency i, monetary 100·i². Each measure's quintiles are pairs of buyers.
        buyers = []
        for i in range(1, 11):
            member = await history.holder()
            for k in range(1, i):
                await history.buy(member, local(2025, 1, k, 12), 100 * i)
            await history.buy(member, local(2025, 5, i, 12), 100 * i)
            buyers.append(member)
        never = await history.holder()
        await history.guest()
        gone = await history.holder(deleted=True)
        await history.buy(gone, local(2025, 6, 1, 12), 10_000_000)

        report = await run_rfm(services)

        assert report.cuts == {
            "recency_days": [37, 39, 41, 43],
            "frequency": [3, 5, 7, 9],
            "monetary_fen": [401, 1601, 3601, 6401],
        }
        rows = await _rows()
        for i, member in enumerate(buyers, start=1):
            score = (i + 1) // 2
            segment = "important_value" if score >= 3 else "general_winback"
            assert rows[member.id] == (46 - i, i, 100 * i * i, score, score, score, segment)
        assert rows[never.id] == (None, 0, 0, None, None, None, "never_purchased")
        assert gone.id not in rows
        assert len(rows) == 11 and report.scored == 11

    async def test_equal_values_always_get_the_same_score(
        self, services: Services, history: History
    ) -> None:
        members = [await history.holder() for _ in range(7)]
        for member in members:
            await history.buy(member, local(2025, 3, 1, 12), 5000)
        await run_rfm(services)
        rows = await _rows()
        assert {rows[m.id][3:] for m in members} == {(1, 1, 1, "general_winback")}


class TestRefunds:
    async def test_refunds_before_the_day_are_netted_and_later_ones_wait(
        self, services: Services, history: History
    ) -> None:
        partly = await history.holder()
        await history.buy(
            partly, local(2025, 3, 1, 12), 10_000, refunds=((local(2025, 3, 2, 9), 3_000),)
        )
        later = await history.holder()
        await history.buy(
            later, local(2025, 3, 1, 12), 10_000, refunds=((local(2025, 6, 15, 8), 4_000),)
        )
        await run_rfm(services)
        rows = await _rows()
        assert rows[partly.id][1:3] == (1, 7_000)
        assert rows[later.id][1:3] == (1, 10_000)

    async def test_a_purchase_refunded_in_full_does_not_count(
        self, services: Services, history: History
    ) -> None:
        undone = await history.holder()
        await history.buy(
            undone, local(2025, 6, 10, 12), 8_000, refunds=((local(2025, 6, 11, 9), 8_000),)
        )
        mixed = await history.holder()
        await history.buy(mixed, local(2025, 3, 1, 12), 2_000)
        await history.buy(
            mixed,
            local(2025, 6, 10, 12),
            5_000,
            refunds=((local(2025, 6, 11, 9), 1_000), (local(2025, 6, 12, 9), 4_000)),
        )
        await run_rfm(services)
        rows = await _rows()
        assert rows[undone.id][6] == "never_purchased"
        assert rows[mixed.id][:3] == (106, 1, 2_000)  # the last counted purchase is 1 March


class TestWindow:
    async def test_the_window_starts_365_days_before_the_day(
        self, services: Services, history: History
    ) -> None:
        member = await history.holder(local(2023, 1, 1, 9))
        await history.buy(member, local(2024, 6, 14, 23, 59, 59), 1_000)  # just before
        await history.buy(member, local(2024, 6, 15, 0, 0, 0), 2_000)  # the window's first moment
        await history.buy(member, local(2025, 6, 14, 23, 59, 59), 4_000)  # the day before
        await history.buy(member, local(2025, 6, 15, 8, 0), 8_000)  # today: not yet
        await run_rfm(services)
        rows = await _rows()
        assert rows[member.id][:3] == (1, 2, 6_000)

    async def test_recency_counts_a_part_of_a_day_as_a_whole_one(
        self, services: Services, history: History
    ) -> None:
        found = {}
        for moment, days in (
            (local(2025, 6, 14, 23, 59, 59), 1),
            (local(2025, 6, 14, 0, 0, 0), 1),
            (local(2025, 6, 13, 23, 59, 59), 2),
            (local(2022, 6, 1, 12), 1110),  # outside the window: recency only
        ):
            member = await history.holder(local(2021, 1, 1))
            await history.buy(member, moment, 1_000)
            found[member.id] = days
        await run_rfm(services)
        rows = await _rows()
        assert {member_id: rows[member_id][0] for member_id in found} == found

    async def test_cards_opened_today_wait_for_tomorrow(
        self, services: Services, history: History
    ) -> None:
        today = await history.holder(local(2025, 6, 15, 8))
        await run_rfm(services)
        assert today.id not in await _rows()


class TestSegments:
    async def test_every_segment_by_the_rule(self, services: Services, history: History) -> None:
        await _use_thresholds(services)
        plans: dict[str, list[tuple[int, int]]] = {  # (days ago, fen) per purchase
            "important_value": [(300, 10_000), (200, 10_000), (40, 10_000)],  # R4 F3 M3
            "important_development": [(40, 50_000)],  # R4 F1 M4
            "important_retention": [(300, 20_000), (200, 20_000), (120, 20_000)],  # R2 F3 M4
            "important_winback": [(200, 40_000)],  # R1 F1 M3
            "general_value": [(300, 1_000), (200, 1_000), (40, 1_000)],  # R4 F3 M1
            "general_development": [(40, 1_000)],  # R4 F1 M1
            "general_retention": [(300, 1_000), (200, 1_000), (120, 1_000)],  # R2 F3 M1
            "general_winback": [(200, 1_000)],  # R1 F1 M1
            "new": [(5, 200_000)],  # first purchase 5 days ago
            "never_purchased": [],
        }
        members: dict[str, Member] = {}
        for segment, purchases in plans.items():
            members[segment] = await history.holder(local(2023, 1, 1))
            for days, fen in purchases:
                await history.buy(members[segment], _days_ago(days), fen)
        report = await run_rfm(services)
        assert report.mode == "thresholds" and report.cuts == THRESHOLDS
        rows = await _rows()
        assert {segment: rows[m.id][6] for segment, m in members.items()} == {
            segment: segment for segment in plans
        }
        assert rows[members["new"].id][3:6] == (5, 1, 5)
        sizes = (await sizes_now()).public()
        assert [item["members"] for item in sizes["items"]] == [1] * 10
        assert [item["label"] for item in sizes["items"]] == [
            "重要价值",
            "重要发展",
            "重要保持",
            "重要挽留",
            "一般价值",
            "一般发展",
            "一般保持",
            "一般挽留",
            "新客",
            "未购买",
        ]

    def test_labels_of_codes(self) -> None:
        assert label("important_winback") == "重要挽留"
        assert label("") is None and label(None) is None


class TestIdempotentPerDay:
    async def test_a_second_run_of_the_day_changes_nothing(
        self, services: Services, history: History
    ) -> None:
        members = [await history.holder() for _ in range(6)]
        for n, member in enumerate(members[:5]):
            await history.buy(member, local(2025, 4, 1 + n, 12), 1_000 * (n + 1))
        first = await run_rfm(services, batch_size=2)
        before = await _full_rows()
        # Today's purchases and a new card belong to tomorrow's run.
        await history.buy(members[5], local(2025, 6, 15, 8), 99_000)
        await history.holder(local(2025, 6, 14, 12))
        second = await run_rfm(services, batch_size=2)
        assert (first.status, second.status) == ("finished", "already_finished")
        assert second.scored == first.scored == 6
        assert await _full_rows() == before
        assert await RfmRun.all().count() == 1

    async def test_new_settings_score_the_day_again(
        self, services: Services, history: History
    ) -> None:
        member = await history.holder()
        await history.buy(member, _days_ago(10), 60_000)
        await history.buy(member, _days_ago(300), 60_000)
        await run_rfm(services)
        await _use_thresholds(services)
        report = await run_rfm(services)
        assert (report.status, report.settings_version, report.mode) == (
            "finished",
            1,
            "thresholds",
        )
        assert (await _rows())[member.id][3:] == (5, 2, 5, "important_development")

    async def test_a_day_to_come_is_refused(self, services: Services, history: History) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await run_rfm(services, date(2025, 6, 16))
        assert refused.value.code == "day_in_future"


async def _random_history(history: History, seed: int) -> None:
    rng = random.Random(seed)
    members = []
    for _ in range(40):
        opened = local(2023, 1, 1) + timedelta(hours=rng.randrange(0, 24 * 900))
        members.append(await history.holder(opened, deleted=rng.random() < 0.05))
    members.append(await history.holder(None))
    for _ in range(3):
        await history.guest()
    for _ in range(160):
        member = rng.choice(members)
        at = AS_OF - timedelta(seconds=rng.randrange(-3600 * 12, 3600 * 24 * 500))
        fen = rng.choice([990, 1_000, 2_500, 9_900, 15_000, rng.randrange(1, 80_000)])
        refunds: tuple[Any, ...] = ()
        roll = rng.random()
        if roll < 0.1:
            refunds = ((at + timedelta(hours=rng.randrange(1, 400)), fen),)
        elif roll < 0.25:
            refunds = ((at + timedelta(hours=rng.randrange(1, 400)), rng.randrange(1, fen + 1)),)
        await history.buy(member, at, fen, refunds=refunds)


class TestAgainstReference:
    @pytest.mark.parametrize("seed", [7, 2025])
    async def test_quintiles_equal_the_python_reference(
        self, services: Services, history: History, seed: int
    ) -> None:
        await _random_history(history, seed)
        report = await run_rfm(services, batch_size=7)
        expected, cuts = await reference(TODAY)
        assert Cuts.from_public(report.cuts) == cuts
        assert await _rows() == {member_id: astuple(e) for member_id, e in expected.items()}

    async def test_thresholds_equal_the_python_reference(
        self, services: Services, history: History
    ) -> None:
        await _random_history(history, 99)
        await _use_thresholds(services)
        await run_rfm(services, batch_size=5)
        expected, _ = await reference(TODAY, cuts=Cuts.from_public(THRESHOLDS))
        assert await _rows() == {member_id: astuple(e) for member_id, e in expected.items()}


class TestResume:
    async def test_a_run_stopped_after_one_batch_resumes_to_the_same_result(
        self, services: Services, history: History, clock: FrozenClock
    ) -> None:
        await _random_history(history, 11)

        async def crash(done: BatchDone) -> None:
            raise Crash(done.batch)

        with pytest.raises(Crash):
            await run_rfm(services, batch_size=4, on_batch=crash)
        stopped = await RfmRun.get()
        assert (stopped.status, stopped.batches) == ("running", 1)
        # Hours later: today's purchases must not change what the day's run measures.
        clock.set(local(2025, 6, 15, 18))
        late = await history.holder(local(2024, 1, 1))
        await history.buy(late, local(2025, 6, 15, 17), 50_000)
        resumed = await run_rfm(services, batch_size=4)
        assert resumed.resumed_from == stopped.cursor and resumed.status == "finished"
        interrupted = await _full_rows()

        await MemberRfm.all().delete()
        await RfmRun.all().delete()
        await RfmMonth.all().delete()
        once = await run_rfm(services, batch_size=1000)
        assert once.batches == 1 and once.cuts == resumed.cuts
        assert await _full_rows() == interrupted
        assert resumed.scored == once.scored

    async def test_should_stop_ends_a_run_between_batches(
        self, services: Services, history: History
    ) -> None:
        for _ in range(5):
            await history.holder()
        asked = 0

        async def stop_after_two() -> bool:
            nonlocal asked
            asked += 1
            return asked > 2

        report = await run_rfm(services, batch_size=2, should_stop=stop_after_two)
        assert (report.status, report.batches, report.scored) == ("stopped", 2, 4)
        finished = await run_rfm(services, batch_size=2)
        assert (finished.status, finished.scored, finished.resumed_from) == ("finished", 5, 4)


class TestMonthlySnapshot:
    async def test_one_snapshot_a_month_with_the_moves_between_segments(
        self, services: Services, history: History, clock: FrozenClock
    ) -> None:
        await _use_thresholds(services)
        loyal = await history.holder(local(2023, 1, 1))
        await history.buy(loyal, _days_ago(200), 40_000)  # important_winback in June
        idle = await history.holder(local(2023, 1, 1))
        first = await run_rfm(services)
        assert first.snapshot_month == date(2025, 6, 1)

        clock.set(local(2025, 6, 16, 9))
        await history.buy(idle, local(2025, 6, 15, 12), 5_000)
        second = await run_rfm(services)
        assert second.snapshot_month is None
        assert await RfmMonth.filter(month=date(2025, 6, 1)).count() == 2

        clock.set(local(2025, 7, 1, 9))
        await history.buy(loyal, local(2025, 6, 30, 12), 40_000)
        newcomer = await history.holder(local(2025, 6, 20))
        july = await run_rfm(services)
        assert july.snapshot_month == date(2025, 7, 1)
        again = await run_rfm(services)
        assert again.status == "already_finished"

        moves = (await movement()).public()
        assert moves["month"] == "2025-07" and moves["previous_month"] == "2025-06"
        found = {(m["from_segment"], m["to_segment"]): m["members"] for m in moves["moves"]}
        assert found == {
            ("important_winback", "important_development"): 1,
            ("never_purchased", "new"): 1,
            (None, "never_purchased"): 1,
        }
        june = (await movement(date(2025, 6, 1))).public()
        assert {(m["from_segment"], m["to_segment"]) for m in june["moves"]} == {
            (None, "important_winback"),
            (None, "never_purchased"),
        }
        row = await MemberRfm.get(member_id=newcomer.id)
        assert (row.snapshot_segment, row.previous_segment) == ("never_purchased", None)
        assert await monthly_sizes() == [
            (date(2025, 6, 1), {"important_winback": 1, "never_purchased": 1}),
            (date(2025, 7, 1), {"important_development": 1, "new": 1, "never_purchased": 1}),
        ]

    async def test_a_snapshot_missed_by_a_crash_is_taken_by_the_next_run(
        self, services: Services, history: History
    ) -> None:
        member = await history.holder()
        await history.buy(member, local(2025, 6, 1, 12), 1_000)
        await run_rfm(services)
        # As if the process died after the last batch committed, before the snapshot.
        await RfmMonth.all().delete()
        await RfmRun.all().update(snapshot_month=None)
        await MemberRfm.all().update(snapshot_month=None, snapshot_segment=None)
        again = await run_rfm(services)
        assert (again.status, again.snapshot_month) == ("already_finished", date(2025, 6, 1))
        assert await RfmMonth.all().values_list("segment", "members") == [("new", 1)]


class TestDeletedAccounts:
    async def test_a_deleted_account_loses_its_rfm_and_is_not_scored_again(
        self, services: Services, history: History, clock: FrozenClock
    ) -> None:
        leaving = await history.holder()
        staying = await history.holder()
        for member in (leaving, staying):
            await history.buy(member, local(2025, 3, 1, 12), 3_000)
        await run_rfm(services)
        await delete_account(services, await Member.get(id=leaving.id))
        assert set(await _rows()) == {staying.id}
        clock.set(local(2025, 6, 16, 9))
        report = await run_rfm(services)
        assert report.scored == 1 and set(await _rows()) == {staying.id}
        assert (await sizes_now()).total == 1


class TestJob:
    async def test_the_daily_job_scores_today_once(
        self, services: Services, history: History
    ) -> None:
        member = await history.holder()
        await history.buy(member, local(2025, 6, 1, 12), 1_000)

        async def keep_going() -> bool:
            return False

        await score_rfm(JobContext(services, keep_going))
        await score_rfm(JobContext(services, keep_going))
        run = await RfmRun.get()
        assert (run.day, run.status, run.scored) == (TODAY, "finished", 1)
        assert (await MemberRfm.get(member_id=member.id)).segment == "new"


class TestCommand:
    async def test_score_rfm_for_a_day(
        self, settings: dict[str, Any], history: History, tmp_path: Path
    ) -> None:
        member = await history.holder()
        await history.buy(member, local(2025, 3, 1, 12), 1_000)
        config_file = command_config(settings, tmp_path)
        code, out, _ = await run_command(config_file, "score-rfm", "--date", "2025-06-15")
        report = json.loads(out)
        assert (code, report["status"], report["scored"]) == (0, "finished", 1)
        row = await MemberRfm.get(member_id=member.id)
        assert (row.computed_on, row.recency_days) == (TODAY, 106)
        code, out, _ = await run_command(config_file, "score-rfm", "--date", "2025-06-15")
        assert (code, json.loads(out)["status"]) == (0, "already_finished")
        code, _, err = await run_command(config_file, "score-rfm", "--date", "15/06/2025")
        assert code == 2 and "YYYY-MM-DD" in err
        code, _, err = await run_command(config_file, "score-rfm", "--date", "2999-01-01")
        assert code == 1 and "not begun" in err
