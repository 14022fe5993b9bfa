"""Helpers of the reminder and job tests: the frozen day, rule defaults, coupons in hand."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.localtime import local
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon, CouponKind, CouponSource, CouponTemplate, Obtain
from wxmember.core.models.reminders import ReminderRule

# 2026-05-17 09:00 in Shanghai (01:00 UTC); 2026 is not a leap year.
NOW = local(2026, 5, 17, 9, 0)
TODAY = NOW.date()

RULES: dict[str, dict[str, Any]] = {
    "birthday": {
        "name": "生日祝福",
        "kind": "birthday",
        "send_time": "09:00",
        "days_before": 0,
        "channel": "miniapp_subscribe",
        "template_id": "tpl-birthday",
        "mapping": {"name1": "member_name", "date2": "birthday", "phrase3": "notice_phrase"},
        "page": "pages/member/index",
    },
    "points_expiring": {
        "name": "积分到期",
        "kind": "points_expiring",
        "send_time": "09:00",
        "days_before": 7,
        "channel": "miniapp_subscribe",
        "template_id": "tpl-points",
        "mapping": {"name1": "member_name", "number2": "points", "date3": "expiry_date"},
    },
    "coupon_expiring": {
        "name": "券到期",
        "kind": "coupon_expiring",
        "send_time": "09:00",
        "days_before": 3,
        "channel": "miniapp_subscribe",
        "template_id": "tpl-coupon",
        "mapping": {
            "thing1": "coupon_title",
            "date2": "expiry_date",
            "character_string3": "coupon_code",
        },
    },
}

RuleMaker = Callable[..., Awaitable[ReminderRule]]
MemberMaker = Callable[..., Awaitable[Member]]


def rule_fields(kind: str = "birthday", **overrides: Any) -> dict[str, Any]:
    return RULES[kind] | overrides


def register(fake: FakeWeChat, fields: dict[str, Any]) -> None:
    """Make the rule's template known to the fake WeChat, with the mapping's keys."""
    keys = list(fields["mapping"])
    if fields["channel"] == "miniapp_subscribe":
        fake.register_subscribe_template(fields["template_id"], keys)
    else:
        fake.register_template(fields["template_id"], keys)


_names = itertools.count(1)


async def coupon_template(title: str = "满50减10") -> CouponTemplate:
    return await CouponTemplate.create(
        title=title,
        kind=CouponKind.CASH,
        value=1000,
        threshold_fen=5000,
        obtain=Obtain.ISSUED,
        valid_days=30,
    )


async def give_coupon(member: Member, template: CouponTemplate, valid_until: datetime) -> Coupon:
    """A coupon in the member's hands, usable until `valid_until` (exclusive)."""
    return await Coupon.create(
        code=f"C{next(_names):011d}",
        template=template,
        member=member,
        source=CouponSource.ISSUE,
        valid_from=valid_until - timedelta(days=30),
        valid_until=valid_until.astimezone(UTC),
    )
