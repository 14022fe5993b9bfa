"""Never the same occasion twice: crashes between claim, send and mark; concurrent runners.

A crash is a run cancelled at that point (the process dies; nothing after runs). The fake
WeChat finishes a request it received even when the caller is gone, as WeChat would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from handlers.reminders.runs import claim_rule_day, run_due_reminders
from tests.reminders.kit import TODAY, MemberMaker, RuleMaker
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.bot import Follower
from wxmember.core.models.reminders import ReminderDelivery

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TEMPLATE = "/cgi-bin/message/template/send"


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout=10)


async def crash_while_wechat_answers(services: Services, fake: FakeWeChat, path: str) -> None:
    """Run the minute, kill it once WeChat has the message, let WeChat finish delivering it."""
    fake.inject(path, delay=0.3)
    run = asyncio.create_task(run_due_reminders(services))
    await until(lambda: fake.calls[path] == 1)
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    await until(lambda: len(fake.sent) == 1)


async def states() -> list[tuple[str, str | None]]:
    return [(row.state, row.reason) for row in await ReminderDelivery.all().order_by("id")]


class TestCrashBetweenClaimAndSend:
    async def test_a_later_run_sends_the_claimed_rows_once(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        rule = await new_rule("birthday")
        members = [await new_member(date(1990, 5, 17), grants={"tpl-birthday": 2}) for _ in "ab"]
        assert await claim_rule_day(services, rule, TODAY) == 2
        # the process dies here: claimed, nothing sent
        assert await states() == [("claimed", None)] * 2
        assert fake_wechat.sent == []
        await run_due_reminders(services)
        await run_due_reminders(services)
        assert sorted(m.touser for m in fake_wechat.sent) == sorted(m.openid or "" for m in members)
        assert await states() == [("sent", None)] * 2

    async def test_claiming_again_claims_nothing(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        rule = await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        assert await claim_rule_day(services, rule, TODAY) == 1
        assert await claim_rule_day(services, rule, TODAY) == 0
        assert await ReminderDelivery.all().count() == 1


class TestConcurrentRunners:
    async def test_two_runners_send_each_occasion_once(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        members = [
            await new_member(date(1990, 5, 17), grants={"tpl-birthday": 3}) for _ in range(6)
        ]
        results = await asyncio.gather(*(run_due_reminders(services) for _ in range(3)))
        assert sum(r.outcomes["sent"] for r in results) == 6
        assert sorted(m.touser for m in fake_wechat.sent) == sorted(m.openid or "" for m in members)
        assert await states() == [("sent", None)] * 6


class TestCrashBetweenSendAndMark:
    async def test_subscribe_message_is_settled_as_unknown_outcome_never_resent(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 3})
        await crash_while_wechat_answers(services, fake_wechat, SUBSCRIBE)
        assert await states() == [("sending", None)]
        await run_due_reminders(services)  # within the timeout the row is left alone
        assert await states() == [("sending", None)]
        clock.advance(seconds=121)
        await run_due_reminders(services)
        assert await states() == [("failed", "unknown_outcome")]
        clock.advance(hours=1)
        await run_due_reminders(services)
        assert [m.touser for m in fake_wechat.sent] == [member.openid]
        assert fake_wechat.calls[SUBSCRIBE] == 1

    async def _official(
        self, new_rule: RuleMaker, new_member: MemberMaker, fake: FakeWeChat
    ) -> Any:
        await new_rule(
            "birthday",
            channel="official_template",
            template_id="oa-birthday",
            mapping={"keyword1": "member_name"},
            page="pages/member/index",
        )
        member = await new_member(date(1990, 5, 17), official_openid="oa-1")
        await Follower.create(openid="oa-1", member=member, subscribed=True)
        fake.add_follower("oa-1")
        return member

    async def test_template_message_is_resent_with_the_same_client_msg_id(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await self._official(new_rule, new_member, fake_wechat)
        await crash_while_wechat_answers(services, fake_wechat, TEMPLATE)
        clock.advance(seconds=121)
        await run_due_reminders(services)
        row = (await ReminderDelivery.all())[0]
        assert (row.state, row.attempts) == ("sent", 2)
        # WeChat saw the same client_msg_id twice and delivered once
        assert fake_wechat.calls[TEMPLATE] == 2
        assert len(fake_wechat.sent) == 1
        assert row.msgid == str(fake_wechat.sent[0].msgid)

    async def test_template_message_past_the_dedup_window_is_not_resent(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await self._official(new_rule, new_member, fake_wechat)
        await crash_while_wechat_answers(services, fake_wechat, TEMPLATE)
        clock.advance(minutes=10)
        await run_due_reminders(services)
        assert await states() == [("failed", "unknown_outcome")]
        assert fake_wechat.calls[TEMPLATE] == 1


class TestNoAnswer:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["wechat"] = settings["wechat"] | {"timeout_seconds": 0.2}
        return settings

    async def test_timeout_on_a_subscribe_message_is_unknown_outcome(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 3})
        fake_wechat.inject(SUBSCRIBE, delay=0.5)
        await run_due_reminders(services)
        row = (await ReminderDelivery.all())[0]
        assert (row.state, row.reason, row.errcode) == ("failed", "unknown_outcome", -2)
        await until(lambda: len(fake_wechat.sent) == 1)  # it did arrive
        clock.advance(hours=1)
        await run_due_reminders(services)
        assert fake_wechat.calls[SUBSCRIBE] == 1

    async def test_no_connection_is_retried(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        """The request never left: sending again cannot double the message."""
        await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        real_base = services.miniapp.api_base
        await services.miniapp.access_token()  # cached, so only the send needs the network
        services.miniapp.api_base = "http://127.0.0.1:9"
        await run_due_reminders(services)
        row = (await ReminderDelivery.all())[0]
        assert (row.state, row.reason, row.errcode) == ("claimed", "retrying", -2)
        services.miniapp.api_base = real_base
        clock.advance(seconds=60)
        await run_due_reminders(services)
        assert await states() == [("sent", None)]
        assert len(fake_wechat.sent) == 1
