"""Fixtures of the reminder tests: a frozen Shanghai clock, rules, members with grants."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from handlers.operators.accounts import create_operator
from handlers.reminders.rules import RuleCreate, create_rule
from tests.factories import create_member
from tests.reminders.kit import NOW, MemberMaker, RuleMaker, register, rule_fields
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.inputs import validate
from wxmember.core.models import Member, Operator, Role
from wxmember.core.models.reminders import ReminderRule
from wxmember.core.models.subscriptions import SubscribeGrant


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


@pytest.fixture
async def operator(client: Any) -> Operator:
    return await create_operator("reminder-owner", "correct-horse-battery", Role.OWNER)


@pytest.fixture
def new_rule(operator: Operator, fake_wechat: FakeWeChat) -> RuleMaker:
    """A rule made through the handler (defaults per kind), its template known to the fake."""

    async def make(kind: str = "birthday", **overrides: Any) -> ReminderRule:
        fields = rule_fields(kind, **overrides)
        register(fake_wechat, fields)
        return await create_rule(operator, validate(RuleCreate, fields))

    return make


@pytest.fixture
def new_member(fake_wechat: FakeWeChat) -> MemberMaker:
    """A member with a card; `grants` one-time subscriptions per template, ours and WeChat's."""

    async def make(
        birthday: date | None = date(1990, 5, 17),
        *,
        grants: dict[str, int] | None = None,
        name: str = "张三",
        **fields: Any,
    ) -> Member:
        member = await create_member(birthday=birthday, name=name)
        if fields:
            await Member.filter(id=member.id).update(**fields)
            await member.refresh_from_db()
        for template_id, count in (grants or {}).items():
            await SubscribeGrant.create(member=member, template_id=template_id, remaining=count)
            if member.openid:
                fake_wechat.grant_subscription(member.openid, template_id, count)
        return member

    return make
