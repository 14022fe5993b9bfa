"""Pruning each kind past its lifetime, in batches, stoppable; the records that are never pruned.

Lifetimes (conftest): reminder deliveries 3 days, campaign deliveries 30, audit 184, import
problems 10, batches of 5. Today is 2026-05-17 (Shanghai); the reminder horizon is 2026-05-14.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from handlers import points
from handlers.retention import prune
from tests.factories import create_member
from tests.reminders.kit import NOW
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.member_imports import ImportStatus, MemberImport, MemberImportProblem
from wxmember.core.models.points import PointsEntry, PointsLot
from wxmember.core.models.reminders import (
    Channel,
    DeliveryState,
    ReminderDelivery,
    ReminderKind,
    ReminderRule,
)
from wxmember.core.models.tier_history import TierChange, TierChangeReason
from wxmember.core.models.wallet_card import WalletCardEvent


async def a_rule() -> ReminderRule:
    return await ReminderRule.create(
        name="r",
        kind=ReminderKind.POINTS_EXPIRING,
        send_time="09:00",
        days_before=1,
        channel=Channel.MINIAPP_SUBSCRIBE,
        template_id="tpl",
    )


async def delivery(
    rule: ReminderRule, member: Member, occasion: str, day: date, state: str = "sent"
) -> ReminderDelivery:
    return await ReminderDelivery.create(
        rule=rule,
        member=member,
        occasion=occasion,
        day=day,
        channel=Channel.MINIAPP_SUBSCRIBE,
        template_id="tpl",
        state=DeliveryState(state),
        created_at=NOW,
        updated_at=NOW,
    )


async def occasions() -> list[str]:
    rows = await ReminderDelivery.all().order_by("id").values_list("occasion", flat=True)
    return [str(occasion) for occasion in rows]


async def audit_rows(ages_in_days: list[int]) -> None:
    for n, age in enumerate(ages_in_days):
        entry = await AuditEntry.create(actor="owner", action=f"a{n}", target_type="t")
        await AuditEntry.filter(id=entry.id).update(created_at=NOW - timedelta(days=age))


async def campaign(state: CampaignState, finished: datetime | None) -> Campaign:
    return await Campaign.create(
        name=f"c-{state}",
        state=state,
        salt=secrets.token_hex(8),
        finished_at=finished,
        created_at=NOW - timedelta(days=100),
        updated_at=NOW,
    )


async def recipients(of: Campaign, members: list[Member], state: str = "sent") -> None:
    for member in members:
        await CampaignDelivery.create(
            campaign=of,
            member=member,
            state=DeliveryState(state),
            created_at=NOW,
            updated_at=NOW,
        )


async def member_import(status: ImportStatus, finished: datetime | None, problems: int) -> int:
    record = await MemberImport.create(
        file_sha256=secrets.token_hex(32),
        actor="owner",
        status=status,
        started_at=NOW - timedelta(days=60),
        finished_at=finished,
    )
    for line in range(problems):
        await MemberImportProblem.create(member_import=record, line=line + 2, problem="bad_phone")
    return record.id


class TestReminderDeliveries:
    async def test_rows_whose_occasion_is_over_before_the_horizon_go(
        self, services: Services, clock: FrozenClock
    ) -> None:
        rule, member = await a_rule(), await create_member()
        await delivery(rule, member, "points:2026-05-13", date(2026, 5, 12))  # goes
        await delivery(rule, member, "points:2026-05-14", date(2026, 5, 7))  # the horizon: stays
        await delivery(rule, member, "birthday:2025", date(2025, 12, 20))  # goes
        await delivery(rule, member, "birthday:2026", date(2026, 1, 10))  # the year runs: stays
        await delivery(rule, member, "coupon:1", date(2026, 3, 14))  # 61 days old: goes
        await delivery(rule, member, "coupon:2", date(2026, 3, 15))  # its coupon may last: stays
        await delivery(rule, member, "points:2026-04-01", date(2026, 3, 31), "claimed")  # stays
        await delivery(rule, member, "other:1", date(2025, 1, 1))  # unknown form: stays
        report = await prune(services)
        assert report.pruned["reminder_deliveries"] == 3
        assert await occasions() == [
            "points:2026-05-14",
            "birthday:2026",
            "coupon:2",
            "points:2026-04-01",
            "other:1",
        ]

    async def test_rows_of_many_days_and_batches_all_go(
        self, services: Services, clock: FrozenClock
    ) -> None:
        rule = await a_rule()
        members = [await create_member() for _ in range(7)]
        for day in (date(2026, 4, 1), date(2026, 4, 2)):
            for member in members:
                await delivery(rule, member, f"points:{day.isoformat()}", day)
        assert (await prune(services)).pruned["reminder_deliveries"] == 14
        assert await ReminderDelivery.all().count() == 0

    async def test_zero_keeps_every_row(self, services: Services, clock: FrozenClock) -> None:
        services.config = services.config.replace(retention={"reminder_deliveries_days": 0})
        rule, member = await a_rule(), await create_member()
        await delivery(rule, member, "points:2020-01-02", date(2020, 1, 1))
        assert (await prune(services)).pruned["reminder_deliveries"] == 0
        assert await ReminderDelivery.all().count() == 1


class TestCampaignDeliveries:
    async def test_rows_of_campaigns_ended_before_the_lifetime_go(
        self, services: Services, clock: FrozenClock
    ) -> None:
        members = [await create_member() for _ in range(6)]
        old = await campaign(CampaignState.FINISHED, NOW - timedelta(days=31))
        cancelled = await campaign(CampaignState.CANCELLED, NOW - timedelta(days=40))
        recent = await campaign(CampaignState.FINISHED, NOW - timedelta(days=29))
        running = await campaign(CampaignState.RUNNING, None)
        await recipients(old, members)  # six rows: two batches
        await recipients(cancelled, members[:2], "skipped")
        await recipients(cancelled, members[2:3], "sending")  # not settled: stays
        await recipients(recent, members[:2])
        await recipients(running, members[:2])
        report = await prune(services)
        assert report.pruned["campaign_deliveries"] == 8
        left = await CampaignDelivery.all().values_list("campaign_id", "state")
        assert sorted(left) == sorted(
            [(cancelled.id, "sending")] + [(recent.id, "sent")] * 2 + [(running.id, "sent")] * 2
        )
        old_after = await Campaign.get(id=old.id)
        assert old_after.state == CampaignState.FINISHED


class TestAuditLog:
    async def test_rows_older_than_the_lifetime_go(
        self, services: Services, clock: FrozenClock
    ) -> None:
        await audit_rows([400, 185, 183, 1])
        assert (await prune(services)).pruned["audit_log"] == 2
        left = await AuditEntry.all().order_by("id").values_list("action", flat=True)
        assert list(left) == ["a2", "a3"]

    async def test_zero_keeps_the_log_for_ever(
        self, services: Services, clock: FrozenClock
    ) -> None:
        services.config = services.config.replace(retention={"audit_days": 0})
        await audit_rows([4000])
        assert (await prune(services)).pruned["audit_log"] == 0
        assert await AuditEntry.all().count() == 1


class TestImportProblems:
    async def test_problems_of_imports_finished_before_the_lifetime_go(
        self, services: Services, clock: FrozenClock
    ) -> None:
        old = await member_import(ImportStatus.FINISHED, NOW - timedelta(days=11), 7)
        recent = await member_import(ImportStatus.FINISHED, NOW - timedelta(days=9), 2)
        running = await member_import(ImportStatus.RUNNING, None, 2)
        assert (await prune(services)).pruned["import_problems"] == 7
        left = await MemberImportProblem.all().values_list("member_import_id", flat=True)
        assert sorted(left) == sorted([recent, recent, running, running])
        assert (await MemberImport.get(id=old)).status == ImportStatus.FINISHED


class TestWalletCardEvents:
    async def test_events_older_than_the_lifetime_go_in_batches(
        self, services: Services, clock: FrozenClock
    ) -> None:
        member = await create_member()
        ages = [400, 25, 21, 21, 21, 21, 21, 21, 19, 1]  # lifetime 20 days, batches of 5
        for n, days in enumerate(ages):
            await WalletCardEvent.create(
                push_key=f"o-1:{n}:user_view_card:{member.card_no}",
                event="user_view_card",
                card_id="p-card",
                code=member.card_no,
                member=member,
                created_at=NOW - timedelta(days=days),
            )
        assert (await prune(services)).pruned["wallet_card_events"] == 8
        left = await WalletCardEvent.all().order_by("id").values_list("created_at", flat=True)
        assert list(left) == [NOW - timedelta(days=19), NOW - timedelta(days=1)]

    async def test_zero_keeps_them_for_ever(self, services: Services, clock: FrozenClock) -> None:
        services.config = services.config.replace(retention={"wallet_card_events_days": 0})
        await WalletCardEvent.create(
            push_key="o-1:1:user_view_card:x",
            event="user_view_card",
            card_id="p-card",
            created_at=NOW - timedelta(days=4000),
        )
        assert (await prune(services)).pruned["wallet_card_events"] == 0
        assert await WalletCardEvent.all().count() == 1


class TestKeptRecords:
    async def test_the_ledger_and_tier_history_are_never_pruned(
        self, services: Services, clock: FrozenClock
    ) -> None:
        member = await create_member()
        long_ago = NOW - timedelta(days=3000)
        await points.earn(services, member.id, 10, reason="t", idempotency_key="old")
        await PointsEntry.filter(member_id=member.id).update(created_at=long_ago)
        await PointsLot.filter(member_id=member.id).update(created_at=long_ago)
        await TierChange.create(
            member=member, reason=TierChangeReason.UPGRADE, to_name="银卡", created_at=long_ago
        )
        await audit_rows([3000])
        report = await prune(services)
        assert report.pruned["audit_log"] == 1
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        assert await PointsLot.filter(member_id=member.id).count() == 1
        assert await TierChange.filter(member_id=member.id).count() == 1


class TestBatchesAndStopping:
    async def test_each_batch_asks_whether_to_stop(
        self, services: Services, clock: FrozenClock
    ) -> None:
        await audit_rows([200] * 12)
        asked = 0

        async def never() -> bool:
            nonlocal asked
            asked += 1
            return False

        report = await prune(services, should_stop=never)
        assert report.pruned["audit_log"] == 12 and not report.stopped
        assert asked == 3 + 1  # the audit log's 5 + 5 + 2, then the wallet's events (none)

    async def test_a_stopped_run_keeps_whole_batches_and_the_next_one_finishes(
        self, services: Services, clock: FrozenClock
    ) -> None:
        await audit_rows([200] * 12)
        answers = iter([False, True])

        async def after_one_batch() -> bool:
            return next(answers, True)

        stopped = await prune(services, should_stop=after_one_batch)
        assert stopped.stopped is True
        assert stopped.pruned["audit_log"] == 5
        assert await AuditEntry.all().count() == 7
        resumed = await prune(services)
        assert resumed.as_dict() == {
            "reminder_deliveries": 0,
            "campaign_deliveries": 0,
            "audit_log": 7,
            "import_problems": 0,
            "wallet_card_events": 0,
            "stopped": False,
        }

    async def test_nothing_due_prunes_nothing(self, services: Services, clock: FrozenClock) -> None:
        await audit_rows([10])
        report = await prune(services)
        assert report.pruned == dict.fromkeys(report.pruned, 0) and report.stopped is False
        assert await AuditEntry.all().count() == 1
