"""Delivering reminders: grants, skips, WeChat's refusals, retries, Official Account templates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from handlers.messaging import forget_member
from handlers.reminders.runs import claim_rule_day, run_due_reminders
from tests.reminders.kit import TODAY, MemberMaker, RuleMaker, coupon_template
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.reminders import ReminderDelivery
from wxmember.core.models.subscriptions import SubscribeGrant

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TEMPLATE = "/cgi-bin/message/template/send"


async def only_delivery() -> ReminderDelivery:
    rows = await ReminderDelivery.all()
    assert len(rows) == 1, rows
    return rows[0]


async def grants_left(member: Member, template_id: str = "tpl-birthday") -> int:
    grant = await SubscribeGrant.get_or_none(member_id=member.id, template_id=template_id)
    return grant.remaining if grant is not None else 0


class TestMiniappSubscribe:
    async def test_sent_with_the_rendered_data_spending_one_grant(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 2}, name="李小满")
        summary = await run_due_reminders(services)
        assert summary.outcomes == {"sent": 1}
        [message] = fake_wechat.sent
        assert (message.kind, message.touser, message.template_id) == (
            "subscribe",
            member.openid,
            "tpl-birthday",
        )
        assert message.data == {"name1": "李小满", "date2": "2026年5月17日", "phrase3": "生日快乐"}
        assert message.extra["page"] == "pages/member/index"
        row = await only_delivery()
        assert (row.state, row.occasion, row.day, row.attempts) == (
            "sent",
            "birthday:2026",
            TODAY,
            1,
        )
        assert row.msgid == str(message.msgid)
        assert await grants_left(member) == 1
        assert member.openid is not None
        assert fake_wechat.grants[(member.openid, "tpl-birthday")] == 1

    async def test_no_grant_is_skipped_without_calling_wechat(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        await new_member(date(1990, 5, 17))
        spent = await new_member(date(1991, 5, 17), grants={"tpl-birthday": 0})
        summary = await run_due_reminders(services)
        assert summary.outcomes == {"skipped": 2}
        assert fake_wechat.calls[SUBSCRIBE] == 0
        rows = await ReminderDelivery.all().order_by("id")
        assert [(r.state, r.reason) for r in rows] == [("skipped", "no_grant")] * 2
        assert await grants_left(spent) == 0

    async def test_43101_consumes_the_grant_and_zeroes_our_count(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 3})
        assert member.openid is not None
        fake_wechat.grants[(member.openid, "tpl-birthday")] = 0  # refused in WeChat since
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.errcode, row.reason) == ("failed", 43101, "no_grant_at_wechat")
        assert row.grant_spent
        assert await grants_left(member) == 0
        assert fake_wechat.sent == []

    async def test_invalid_argument_fails_with_the_errcode(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        fake_wechat.register_subscribe_template("tpl-birthday", ["name1", "thing9"])
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.errcode, row.reason) == ("failed", 47003, "rejected")

    async def test_member_deleted_after_the_claim(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        rule = await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await claim_rule_day(services, rule, TODAY)
        await Member.filter(id=member.id).update(deleted_at=clock.now(), openid=None)
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.reason) == ("skipped", "member_deleted")
        assert await grants_left(member) == 1

    async def test_no_openid(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1}, openid=None)
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.reason) == ("skipped", "no_openid")

    async def test_rule_disabled_after_the_claim(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        rule = await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await claim_rule_day(services, rule, TODAY)
        rule.enabled = False
        await rule.save()
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.reason) == ("skipped", "rule_disabled")
        assert fake_wechat.sent == []


class TestRetries:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["reminders"] = {"max_attempts": 2, "retry_base_seconds": 60}
        return settings

    async def test_busy_is_retried_later_without_a_second_grant(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        # the client repeats -1 once itself (network_retries=1); both answers are busy
        fake_wechat.inject(SUBSCRIBE, errcode=-1, times=2)
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.errcode, row.reason, row.attempts) == ("claimed", -1, "retrying", 1)
        assert row.next_attempt_at is not None
        assert (row.next_attempt_at - clock.now()).total_seconds() == 60
        await run_due_reminders(services)  # not due yet
        assert fake_wechat.sent == []
        clock.advance(seconds=60)
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.attempts) == ("sent", 2)
        assert len(fake_wechat.sent) == 1
        assert await grants_left(member) == 0

    async def test_gives_up_after_max_attempts(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        fake_wechat.inject(SUBSCRIBE, errcode=45011, times=5)
        await run_due_reminders(services)
        clock.advance(seconds=60)
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.errcode, row.reason, row.attempts) == (
            "failed",
            45011,
            "retries_exhausted",
            2,
        )
        clock.advance(hours=1)
        await run_due_reminders(services)
        assert fake_wechat.calls[SUBSCRIBE] == 2


class TestOfficialTemplate:
    async def _rule(self, new_rule: RuleMaker) -> Any:
        return await new_rule(
            "birthday",
            channel="official_template",
            template_id="oa-birthday",
            mapping={"first": {"text": "生日快乐"}, "keyword1": "member_name"},
            page="pages/member/index",
        )

    async def test_sent_to_the_follower_with_client_msg_id_and_page(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await self._rule(new_rule)
        member = await new_member(date(1990, 5, 17), official_openid="oa-openid-1")
        await Follower.create(openid="oa-openid-1", member=member, subscribed=True)
        fake_wechat.add_follower("oa-openid-1")
        await run_due_reminders(services)
        row = await only_delivery()
        [message] = fake_wechat.sent
        assert (message.kind, message.touser) == ("template", "oa-openid-1")
        assert message.data == {"first": "生日快乐", "keyword1": "张三"}
        assert message.extra["client_msg_id"] == f"rd{row.id}"
        assert message.extra["miniprogram"]["pagepath"] == "pages/member/index"
        assert row.state == "sent"

    async def test_unfollowed_is_skipped(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await self._rule(new_rule)
        member = await new_member(date(1990, 5, 17), official_openid="oa-openid-2")
        await Follower.create(openid="oa-openid-2", member=member, subscribed=False)
        unlinked = await new_member(date(1991, 5, 17))
        await run_due_reminders(services)
        rows = {r.member_id: r for r in await ReminderDelivery.all()}
        assert (rows[member.id].state, rows[member.id].reason) == ("skipped", "unsubscribed")
        assert (rows[unlinked.id].state, rows[unlinked.id].reason) == ("skipped", "no_openid")
        assert fake_wechat.calls[TEMPLATE] == 0

    async def test_not_following_at_wechat_fails_with_43004(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        await self._rule(new_rule)
        await new_member(date(1990, 5, 17), official_openid="oa-openid-3")
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.errcode, row.reason) == ("failed", 43004, "recipient_unavailable")


class TestBirthdayGift:
    async def test_points_once_a_year_even_without_a_grant(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday", gift={"points": 188})
        await new_rule("birthday", name="另一条", template_id="tpl-other", gift={"points": 50})
        member = await new_member(date(1990, 5, 17))
        await run_due_reminders(services)
        await run_due_reminders(services)
        member = await Member.get(id=member.id)
        assert member.points_balance == 188
        rows = await ReminderDelivery.all().order_by("rule_id")
        assert [(r.state, r.reason, r.gift_state) for r in rows] == [
            ("skipped", "no_grant", "granted"),
            ("skipped", "no_grant", "duplicate"),
        ]
        assert rows[0].gift_key == f"birthday-gift:{member.id}:2026"
        assert fake_wechat.sent == []

    async def test_coupon_gift_and_its_name_in_the_message(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        template = await coupon_template("生日蛋糕券")
        await new_rule(
            "birthday",
            gift={"coupon_template_id": template.id},
            mapping={"name1": "member_name", "thing2": "gift_name"},
        )
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await run_due_reminders(services)
        coupon = await Coupon.get(member_id=member.id)
        assert coupon.issue_key == f"birthday-gift:{member.id}:2026"
        assert fake_wechat.sent[0].data == {"name1": "张三", "thing2": "生日蛋糕券"}
        row = await only_delivery()
        assert (row.gift_state, row.gift_ref) == ("granted", f"coupon:{coupon.id}")

    async def test_a_refused_gift_is_recorded_and_the_message_still_goes(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        template = await coupon_template()
        await new_rule("birthday", gift={"coupon_template_id": template.id})
        template.stopped = True
        await template.save()
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await run_due_reminders(services)
        row = await only_delivery()
        assert (row.state, row.gift_state, row.gift_ref) == ("sent", "failed", "template_stopped")


class TestRuleChanges:
    async def test_a_change_takes_effect_at_the_next_minute(
        self,
        client: Any,
        login_as: Any,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        rule = await new_rule("birthday", send_time="18:00")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await run_due_reminders(services)
        assert fake_wechat.sent == []
        headers = await login_as("operator")
        response = await client.patch(
            f"/admin/api/v1/reminder-rules/{rule.id}", json={"send_time": "08:30"}, headers=headers
        )
        assert response.status == 200
        clock.advance(minutes=1)
        await run_due_reminders(services)
        assert len(fake_wechat.sent) == 1


class TestForgetMember:
    async def test_account_deletion_wipes_the_messages_kept(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        birthday = await new_rule("birthday")
        member = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1}, name="李小满")
        await run_due_reminders(services)
        later = await new_rule("birthday", name="再次", template_id="tpl-again")
        await claim_rule_day(services, later, TODAY)
        await forget_member(member.id)
        rows = {r.rule_id: r for r in await ReminderDelivery.all()}
        assert (rows[birthday.id].state, rows[birthday.id].payload) == ("sent", {})
        assert (rows[later.id].state, rows[later.id].reason) == ("skipped", "member_deleted")
        assert "李小满" not in str(rows[later.id].payload)
