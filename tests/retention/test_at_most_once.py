"""Pruning never lets a reminder go out twice: a delivery row goes only once no run can claim its
occasion again, and a rule cannot be run for a day whose rows may be gone.

The lifetime is 3 days (conftest): on 2026-05-21 the horizon is 2026-05-18. A reminder sent on
2026-05-17 is older than that, but its occasion may still come up: these tests change the rule
so that a later day targets the same occasion, and the member must not get it again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from handlers import points
from handlers.operators.accounts import create_operator
from handlers.reminders.rules import RuleCreate, RulePatch, create_rule, update_rule
from handlers.reminders.runs import run_due_reminders, run_rule
from handlers.retention import prune
from tests.factories import create_member
from tests.reminders.kit import register, rule_fields
from tests.support.localtime import SHANGHAI, local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.inputs import validate
from wxmember.core.localtime import end_of_local_day
from wxmember.core.models import Member, Operator, Role
from wxmember.core.models.reminders import ReminderDelivery, ReminderRule
from wxmember.core.models.subscriptions import SubscribeGrant


@pytest.fixture
async def owner(client: Any) -> Operator:
    return await create_operator("retention-owner", "correct-horse-battery", Role.OWNER)


async def new_rule(owner: Operator, fake: FakeWeChat, kind: str, **fields: Any) -> ReminderRule:
    values = rule_fields(kind, **fields)
    register(fake, values)
    return await create_rule(owner, validate(RuleCreate, values))


async def granted_member(fake: FakeWeChat, template_id: str, birthday: date) -> Member:
    """A member holding three grants of the template: a second reminder would be sendable."""
    member = await create_member(birthday=birthday)
    await SubscribeGrant.create(member=member, template_id=template_id, remaining=3)
    assert member.openid
    fake.grant_subscription(member.openid, template_id, 3)
    return member


async def resend_attempts(services: Services, clock: FrozenClock, at: Any) -> None:
    """The scheduler's minute at `at`, then pruning, then the minute again."""
    clock.set(at)
    await run_due_reminders(services)
    await prune(services)
    await run_due_reminders(services)


class TestPointsReminder:
    async def test_a_reminder_past_its_lifetime_is_kept_while_its_expiry_day_can_come_up(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        rule = await new_rule(owner, fake_wechat, "points_expiring", days_before=7)
        member = await granted_member(fake_wechat, "tpl-points", date(1990, 1, 1))
        expires = end_of_local_day(date(2026, 5, 24), SHANGHAI)
        await points.earn(
            services, member.id, 50, reason="t", idempotency_key="k", expires_at=expires
        )
        await run_due_reminders(services)  # 2026-05-17: seven days before the 24th
        assert len(fake_wechat.sent) == 1
        # The operator moves the reminder to three days before: the 21st targets the 24th again.
        await update_rule(owner, rule.id, validate(RulePatch, {"days_before": 3}))
        await resend_attempts(services, clock, local(2026, 5, 21, 9, 0))
        assert len(fake_wechat.sent) == 1
        assert await ReminderDelivery.filter(occasion="points:2026-05-24").count() == 1

    async def test_the_row_goes_once_the_expiry_day_is_past_the_horizon(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        await new_rule(owner, fake_wechat, "points_expiring", days_before=7)
        member = await granted_member(fake_wechat, "tpl-points", date(1990, 1, 1))
        expires = end_of_local_day(date(2026, 5, 24), SHANGHAI)
        await points.earn(
            services, member.id, 50, reason="t", idempotency_key="k", expires_at=expires
        )
        await run_due_reminders(services)
        clock.set(local(2026, 5, 27, 9, 0))  # horizon 05-24: the 24th is still kept
        assert (await prune(services)).pruned["reminder_deliveries"] == 0
        clock.set(local(2026, 5, 28, 9, 0))  # horizon 05-25
        assert (await prune(services)).pruned["reminder_deliveries"] == 1
        assert await ReminderDelivery.all().count() == 0


class TestBirthdayReminder:
    async def test_a_birthday_reminder_is_kept_until_its_year_is_over(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        rule = await new_rule(owner, fake_wechat, "birthday", days_before=30)
        await granted_member(fake_wechat, "tpl-birthday", date(1990, 6, 16))
        await run_due_reminders(services)  # 2026-05-17: thirty days before 16 June
        assert len(fake_wechat.sent) == 1
        await update_rule(owner, rule.id, validate(RulePatch, {"days_before": 26}))
        await resend_attempts(services, clock, local(2026, 5, 21, 9, 0))  # targets 16 June again
        assert len(fake_wechat.sent) == 1
        await resend_attempts(services, clock, local(2026, 12, 31, 9, 0))
        assert await ReminderDelivery.filter(occasion="birthday:2026").count() == 1
        clock.set(local(2027, 1, 4, 9, 0))  # horizon 2027-01-01: 2026 is over
        assert (await prune(services)).pruned["reminder_deliveries"] == 1


class TestRunRuleForADay:
    async def test_a_day_before_the_horizon_is_refused(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        rule = await new_rule(owner, fake_wechat, "birthday", days_before=0)
        with pytest.raises(ValidationFailed) as refused:
            await run_rule(services, rule.id, date(2026, 5, 13))
        assert refused.value.code == "day_before_retention"

    async def test_the_horizon_itself_runs(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        rule = await new_rule(owner, fake_wechat, "birthday", days_before=0)
        await granted_member(fake_wechat, "tpl-birthday", date(1990, 5, 14))
        counts = await run_rule(services, rule.id, date(2026, 5, 14))
        assert counts["sent"] == 1

    async def test_any_day_runs_when_deliveries_are_kept_for_ever(
        self, services: Services, clock: FrozenClock, owner: Operator, fake_wechat: FakeWeChat
    ) -> None:
        services.config = services.config.replace(retention={"reminder_deliveries_days": 0})
        rule = await new_rule(owner, fake_wechat, "birthday", days_before=0)
        await granted_member(fake_wechat, "tpl-birthday", date(1990, 1, 2))
        counts = await run_rule(services, rule.id, date(2025, 1, 2))
        assert counts["sent"] == 1
