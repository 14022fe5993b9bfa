"""What a member reads for the reason of a points change (积分变动原因), in Chinese.

The same words the console shows for the ledger's reasons (console/locale/zh_CN/members.toml,
`[reason]`; a test keeps the two the same). A reason without words of its own, such as an
operator's free-text adjustment, which is written for staff and not for the member, reads as
its kind.
"""

from __future__ import annotations

from types import MappingProxyType

from wxmember.core.models.points import EntryKind

REASON_TEXTS: MappingProxyType[str, str] = MappingProxyType(
    {
        "welcome": "开卡礼",
        "checkin": "签到",
        "checkin_makeup_fee": "补签",
        "birthday_gift": "生日礼",
        "mall_redemption": "商城兑换",
        "mall_cancel": "商城订单取消",
        "purchase": "消费",
        "purchase_refund": "消费退款",
        "tier_upgrade": "升级礼",
        "tier_birthday_gift": "等级生日礼",
        "tier_monthly_coupons": "等级每月券",
        "points_expired": "积分到期",
        "opening_gift": "开业礼",
        "claim": "领取",
    }
)

KIND_TEXTS: MappingProxyType[EntryKind, str] = MappingProxyType(
    {
        EntryKind.EARN: "获得积分",
        EntryKind.SPEND: "使用积分",
        EntryKind.EXPIRE: "积分到期",
        EntryKind.ADJUST: "积分调整",
        EntryKind.REFUND: "积分退还",
    }
)

NO_CHANGE_TEXT = "会员信息更新"


def member_reason(reason: str | None, kind: EntryKind | str | None) -> str:
    """The member-facing words for a ledger entry's reason (its kind's when it has none)."""
    if reason is not None and reason in REASON_TEXTS:
        return REASON_TEXTS[reason]
    if kind is not None:
        return KIND_TEXTS.get(EntryKind(kind), NO_CHANGE_TEXT)
    return NO_CHANGE_TEXT
