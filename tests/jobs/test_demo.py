"""The demo's reminders: one rule of each kind, and a birthday greeting on the first minute."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers.reminders.runs import run_due_reminders
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.reminders import ReminderRule
from wxmember.demo import FAKE_SETUPS, SEEDS
from wxmember.demo.reminders import BIRTHDAY_OPENID, BIRTHDAY_TEMPLATE


class TestDemoReminders:
    async def test_seeded_rules_and_the_greeting_at_start(
        self, client: TestClient, config: Config, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        for seed in SEEDS:
            await seed(services)
        for setup in FAKE_SETUPS:
            setup(fake_wechat)
        rules = await ReminderRule.all().order_by("id")
        assert [(r.kind, r.enabled) for r in rules] == [
            ("birthday", True),
            ("points_expiring", True),
            ("coupon_expiring", True),
        ]
        assert rules[0].send_time == "00:00"
        await run_due_reminders(services)  # the scheduler's first minute
        [greeting] = [m for m in fake_wechat.sent if m.touser == BIRTHDAY_OPENID]
        assert greeting.template_id == BIRTHDAY_TEMPLATE
        assert greeting.data["name1"] == "李小满"
        member = await Member.get(openid=BIRTHDAY_OPENID)
        assert member.points_balance == 100  # the birthday gift
        for seed in SEEDS:  # seeding again adds nothing
            await seed(services)
        assert await ReminderRule.all().count() == 3
