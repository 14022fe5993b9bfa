"""积分: the balance and the points about to expire."""

from __future__ import annotations

from datetime import datetime

from wechatpy.messages import BaseMessage

from bot import texts
from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router
from handlers.points import queries as points_queries

router = Router()


@router.action(
    "points", keywords=["积分", "我的积分", "查积分"], menu_keys=["POINTS"], needs_member=True
)
async def show_points(message: BaseMessage, context: BotContext) -> Reply:
    assert context.member is not None
    services = context.services
    summary = await points_queries.summary(services, context.member)
    lines = [f"您当前有 {texts.points(summary['balance'])}。"]
    if summary["debt"]:
        lines.append(f"另有 {texts.points(summary['debt'])}待抵扣，之后获得的积分会先抵扣。")
    expiring = summary["expiring"]
    if expiring["items"]:
        tz = services.config.brand.tz
        today = services.clock.local_today(tz)
        first = expiring["items"][0]
        when = texts.day(datetime.fromisoformat(first["expires_at"]), tz, today)
        lines.append(f"其中 {texts.points(first['points'])}将于 {when}到期，记得使用哦～")
        if len(expiring["items"]) > 1:
            lines.append(
                f"{expiring['within_days']} 天内共有 {texts.points(expiring['total'])}到期。"
            )
    return Text("\n".join(lines))
