"""签到/打卡: today's check-in, the same operation as the mini-program's."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot import texts
from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router
from handlers.checkin.daily import check_in

router = Router()


@router.action(
    "checkin", keywords=["签到", "打卡", "每日签到"], menu_keys=["CHECKIN"], needs_member=True
)
async def check_in_today(message: BaseMessage, context: BotContext) -> Reply:
    assert context.member is not None
    result = await check_in(context.services, context.member)
    earned = f"获得 {texts.points(result.points)}"
    if result.bonus_points:
        earned += f"（含连续签到奖励 {texts.points(result.bonus_points)}）"
    lines = [
        f"签到成功！{earned}，已连续签到 {result.streak} 天。",
        f"当前共有 {texts.points(result.balance)}。",
    ]
    if result.tomorrow is not None:
        lines.append(f"明天签到可得 {texts.points(result.tomorrow.points)}，记得来哦～")
    return Text("\n".join(lines))
