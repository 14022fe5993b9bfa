"""Reminders go out at the configured rate, counted where they arrive: at the fake WeChat."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from handlers.reminders.runs import run_due_reminders
from tests.reminders.kit import MemberMaker, RuleMaker
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat

RATE = 4


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["reminders"] = {"sends_per_second": RATE}
    return settings


class TestRate:
    async def test_sends_per_second_never_exceed_the_rate(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        for _ in range(3 * RATE - 1):
            await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        summary = await run_due_reminders(services)
        assert summary.outcomes == {"sent": 3 * RATE - 1}
        per_second = Counter(int(message.at) for message in fake_wechat.sent)
        assert max(per_second.values()) <= RATE, per_second
        assert len(per_second) >= 3

    async def test_the_budget_is_shared_by_concurrent_runs(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        import asyncio

        await new_rule("birthday")
        for _ in range(2 * RATE + 1):
            await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await asyncio.gather(run_due_reminders(services), run_due_reminders(services))
        per_second = Counter(int(message.at) for message in fake_wechat.sent)
        assert sum(per_second.values()) == 2 * RATE + 1
        assert max(per_second.values()) <= RATE, per_second
