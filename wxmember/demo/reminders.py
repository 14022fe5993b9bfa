"""Reminders for `wxmember demo`: one rule of each kind, and a member whose birthday is today.

The birthday rule's send time is 00:00, so the scheduler's first minute after start sends the
demo member's greeting to the fake WeChat (`/fake-wechat/_fake/sent`). The fake WeChat must know
the templates the rules use and the member's grant: `register_templates` arranges that.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from handlers.members.numbers import new_card_number
from wxmember.core.config import Config
from wxmember.core.fake_wechat import FakeWeChat

BIRTHDAY_TEMPLATE = "demo-tpl-birthday"
POINTS_TEMPLATE = "demo-tpl-points-expiring"
COUPON_TEMPLATE = "demo-oa-coupon-expiring"
BIRTHDAY_OPENID = "demo-birthday-member"

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "生日祝福",
        "kind": "birthday",
        "send_time": "00:00",
        "days_before": 0,
        "channel": "miniapp_subscribe",
        "template_id": BIRTHDAY_TEMPLATE,
        "mapping": {
            "name1": "member_name",
            "date2": "birthday",
            "thing3": "gift_name",
            "phrase4": "notice_phrase",
        },
        "page": "pages/member/index",
        "gift": {"points": 100},
    },
    {
        "name": "积分到期提醒",
        "kind": "points_expiring",
        "send_time": "10:00",
        "days_before": 7,
        "channel": "miniapp_subscribe",
        "template_id": POINTS_TEMPLATE,
        "mapping": {
            "name1": "member_name",
            "number2": "points",
            "date3": "expiry_date",
            "thing4": {"text": "积分即将过期，快去商城兑换吧"},
        },
        "page": "pages/points/index",
    },
    {
        "name": "优惠券到期提醒",
        "kind": "coupon_expiring",
        "send_time": "10:00",
        "days_before": 3,
        "channel": "official_template",
        "template_id": COUPON_TEMPLATE,
        "mapping": {
            "first": {"text": "您有一张优惠券即将到期"},
            "keyword1": "coupon_title",
            "keyword2": "expiry_date",
            "remark": {"text": "点击查看我的优惠券"},
        },
        "page": "pages/coupons/index",
    },
]


def register_templates(fake: FakeWeChat) -> None:
    """The demo rules' templates on the fake WeChat, and the birthday member's grant."""
    birthday_keys = list(DEMO_RULES[0]["mapping"])
    fake.register_subscribe_template(BIRTHDAY_TEMPLATE, birthday_keys)
    fake.register_subscribe_template(POINTS_TEMPLATE, list(DEMO_RULES[1]["mapping"]))
    fake.register_template(COUPON_TEMPLATE, list(DEMO_RULES[2]["mapping"]))
    fake.grant_subscription(BIRTHDAY_OPENID, BIRTHDAY_TEMPLATE)


async def seed(config: Config) -> None:
    """The demo rules (once) and a member whose birthday is today, with one grant."""
    from handlers.reminders.rules import RuleCreate, create_rule
    from wxmember.core.models import Member, Operator, Tier
    from wxmember.core.models.reminders import ReminderRule
    from wxmember.core.models.subscriptions import SubscribeGrant
    from wxmember.core.web import validate

    if not await ReminderRule.exists():
        owner = await Operator.get(username="owner")
        for raw in DEMO_RULES:
            await create_rule(owner, validate(RuleCreate, raw))
    if await Member.exists(openid=BIRTHDAY_OPENID):
        return
    from wxmember.core.clock import Clock

    today = Clock().local_today(config.brand.tz)
    birthday = date(1996, today.month, today.day)  # a leap year: 29 February exists
    member = await Member.create(
        openid=BIRTHDAY_OPENID,
        name="李小满",
        birthday=birthday,
        birth_month=today.month,
        birth_day=today.day,
        card_no=new_card_number(),
        code_secret=secrets.token_hex(20),
        tier=await Tier.filter(level=0).first(),
    )
    await SubscribeGrant.create(member=member, template_id=BIRTHDAY_TEMPLATE, remaining=1)
