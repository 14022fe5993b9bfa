"""Reminders for `wxmember demo`: one rule of each kind, and a member whose birthday is today.

The birthday rule's send time is 00:00, so the scheduler's first minute after start sends the
demo member's greeting to the fake WeChat (`/fake-wechat/_fake/sent`). The fake WeChat must know
the templates the rules use and the member's grant: `register_templates` arranges that.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.members.cards import open_card
from handlers.members.sessions import member_for_openid
from handlers.reminders.rules import RuleCreate, create_rule
from handlers.subscriptions.grants import SOURCE_CLIENT, record_grants
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.inputs import validate
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import ReminderRule
from wxmember.demo.seeds import demo_owner

BIRTHDAY_TEMPLATE = "demo-tpl-birthday"
POINTS_TEMPLATE = "demo-tpl-points-expiring"
COUPON_TEMPLATE = "demo-oa-coupon-expiring"
COMEBACK_TEMPLATE = "demo-oa-comeback"  # for the campaign of the README's walk-through
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
    """The demo rules' templates on the fake WeChat (and a come-back offer's for campaigns),
    and the birthday member's grant."""
    birthday_keys = list(DEMO_RULES[0]["mapping"])
    fake.register_subscribe_template(BIRTHDAY_TEMPLATE, birthday_keys)
    fake.register_subscribe_template(POINTS_TEMPLATE, list(DEMO_RULES[1]["mapping"]))
    fake.register_template(COUPON_TEMPLATE, list(DEMO_RULES[2]["mapping"]))
    fake.register_template(COMEBACK_TEMPLATE, ["first", "keyword1", "keyword2", "remark"])
    fake.grant_subscription(BIRTHDAY_OPENID, BIRTHDAY_TEMPLATE)


async def seed(services: Services) -> None:
    """The demo rules (once) and a member whose birthday is today, with one grant.

    The member logs in and opens a card as anyone would (only WeChat's code exchange is
    skipped), then accepts the birthday template's subscribe message once.
    """
    if not await ReminderRule.exists():
        owner = await demo_owner()
        for raw in DEMO_RULES:
            await create_rule(owner, validate(RuleCreate, raw))
    member, created = await member_for_openid(BIRTHDAY_OPENID)
    if not created:
        return
    today = local_today(services)
    birthday = date(1996, today.month, today.day)  # a leap year: 29 February exists
    await open_card(services, member, name="李小满", birthday=birthday)
    await record_grants(services, member.id, [BIRTHDAY_TEMPLATE], source=SOURCE_CLIENT)
