"""优惠券/我的券: the member's unused coupons, the ones expiring soonest first."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot import texts
from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router
from handlers.coupons.codes import describe
from handlers.coupons.issuing import member_coupons
from wxmember.core.models.coupons import CouponStatus

router = Router()

SHOWN = 5
LOOKED_AT = 99  # past this many unused coupons the list is "99+" and drawn from the newest


@router.action(
    "coupons",
    keywords=["优惠券", "我的券", "我的优惠券", "券", "卡券"],
    menu_keys=["COUPONS"],
    needs_member=True,
)
async def show_coupons(message: BaseMessage, context: BotContext) -> Reply:
    assert context.member is not None
    services = context.services
    found = await member_coupons(services, context.member.id, CouponStatus.UNUSED, None, LOOKED_AT)
    if not found:
        return Text("您暂时没有可用的优惠券，去小程序的领券中心看看吧～")
    found.sort(key=lambda coupon: (coupon.valid_until, coupon.id))
    tz = services.config.brand.tz
    today = services.clock.local_today(tz)
    count = str(len(found)) if len(found) <= LOOKED_AT else f"{LOOKED_AT}+"
    lines = [f"您有 {count} 张可用优惠券："]
    for n, coupon in enumerate(found[:SHOWN], start=1):
        template = coupon.template
        what = describe(
            template.kind, template.value, template.threshold_fen, template.max_discount_fen
        )
        lines.append(
            f"{n}. {template.title}（{what}），{texts.day(coupon.valid_until, tz, today)}到期"
        )
    if len(found) > SHOWN:
        lines.append("更多优惠券请在小程序「我的券」查看。")
    return Text("\n".join(lines))
