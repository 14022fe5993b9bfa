"""等级/会员等级: the member's tier, what it takes to move up, and its benefits."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot import texts
from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router
from handlers.tiers.growth import tier_overview

router = Router()


@router.action(
    "tier",
    keywords=["等级", "会员等级", "我的等级", "成长值"],
    menu_keys=["TIER"],
    needs_member=True,
)
async def show_tier(message: BaseMessage, context: BotContext) -> Reply:
    assert context.member is not None
    services = context.services
    view = await tier_overview(services, context.member)
    name = view.current.name if view.current else "会员"
    lines = [f"您现在是【{name}】，本期成长值 {texts.number(view.period_growth)}。"]
    if view.next_tier is not None and view.growth_to_next is not None:
        needed = texts.number(view.growth_to_next)
        lines.append(f"再获得 {needed} 成长值即可升级为【{view.next_tier.name}】。")
    elif view.current is not None:
        lines.append("您已是最高等级，感谢一路相伴～")
    if view.current is not None and view.growth_to_retain > 0:
        tz = services.config.brand.tz
        when = texts.day(view.next_evaluation, tz, services.clock.local_today(tz))
        lines.append(f"保级还需 {texts.number(view.growth_to_retain)} 成长值（{when}评定）。")
    titles = [
        str(benefit["title"])
        for benefit in (view.current.benefits if view.current else None) or []
        if isinstance(benefit, dict) and benefit.get("title")
    ]
    if titles:
        lines.append("当前权益：" + "、".join(titles))
    return Text("\n".join(lines))
