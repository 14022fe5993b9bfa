"""What the bot says: number and date formats, friendly texts for domain errors, invitations."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

from handlers.followers.links import create_binding_token
from wxmember.core.context import Services
from wxmember.core.errors import DomainError

SORRY = "系统开小差了，请稍后再试～"

# Domain error code -> what the member reads. Codes not listed get a text by their HTTP status.
ERROR_TEXTS: dict[str, str] = {
    "already_checked_in": "今天已经签到过啦，明天再来吧～",
    "checkin_disabled": "签到活动暂未开放，敬请期待～",
    "insufficient_points": "积分不足哦～",
    "member_not_found": "还没有找到您的会员信息，请先在小程序开通会员卡～",
    "card_required": "请先在小程序开通会员卡～",
    "too_many_requests": "操作太频繁啦，请稍后再试～",
    "upstream_unavailable": "服务有点忙，请稍后再试～",
}
_BY_STATUS: dict[int, str] = {
    404: "没有找到相关信息～",
    409: "暂时无法完成这个操作～",
    429: ERROR_TEXTS["too_many_requests"],
    503: ERROR_TEXTS["upstream_unavailable"],
}

_FALLBACK_URL = "https://mp.weixin.qq.com"  # what clients that cannot open mini-programs get


def friendly_error(error: DomainError) -> str:
    """The member-facing text of a refused operation."""
    return ERROR_TEXTS.get(error.code) or _BY_STATUS.get(error.status, SORRY)


def points(amount: int) -> str:
    """1280 -> "1,280 积分"."""
    return f"{amount:,} 积分"


def number(amount: int) -> str:
    return f"{amount:,}"


def day(moment: datetime | date, tz: ZoneInfo, today: date) -> str:
    """A local date as members read it: "12月31日", with the year when it is not this year."""
    local = moment.astimezone(tz).date() if isinstance(moment, datetime) else moment
    if local.year != today.year:
        return f"{local.year}年{local.month}月{local.day}日"
    return f"{local.month}月{local.day}日"


def miniapp_link(services: Services, path: str, label: str) -> str:
    """A text-message link that opens a mini-program page."""
    appid = services.config.miniapp.appid
    return (
        f'<a data-miniprogram-appid="{escape(appid)}" data-miniprogram-path="{escape(path)}"'
        f' href="{_FALLBACK_URL}">{escape(label)}</a>'
    )


async def join_invitation(services: Services, openid: str) -> str:
    """For a follower not linked to a member: open a card, or bind the one they have."""
    token = await create_binding_token(services, openid)
    path = f"{services.config.bot.miniapp_binding_path}?token={token}"
    link = miniapp_link(services, path, "点此开通或绑定会员卡")
    return (
        "您还没有绑定会员卡哦～\n"
        f"{link}\n"
        "已是会员的，打开即可绑定；还不是会员的，一步开卡，签到领积分。"
    )


def welcome(services: Services) -> str:
    return services.config.bot.welcome_text.replace("{brand}", services.config.brand.name)
