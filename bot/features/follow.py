"""Follow, unfollow and parametric QR scans (e.g. a store's QR code at the counter)."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot import texts
from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router
from handlers.followers.links import record_scan, record_subscribe, record_unsubscribe

router = Router()


@router.event("subscribe", "subscribe_scan", "subscribe_scan_product")
async def subscribed(message: BaseMessage, context: BotContext) -> Reply:
    """Welcome; link the member through unionid when WeChat tells it, else invite to bind.

    Whatever the `EventKey` says: a parametric QR code's `qrscene_<scene>` (wechatpy's
    `subscribe_scan`) records the scene; a product page's `scanbarcode|...` (wechatpy's
    `subscribe_scan_product`), an empty key or anything else is a plain follow.
    """
    scene = getattr(message, "scene_id", None) if message.event == "subscribe_scan" else None
    _, member = await record_subscribe(
        context.services, context.openid, unionid=context.unionid, scene=scene
    )
    welcome = texts.welcome(context.services)
    if member is not None and member.has_card:
        return Text(f"{welcome}\n已为您关联会员卡，回复「积分」看看您的积分吧～")
    return Text(f"{welcome}\n\n{await texts.join_invitation(context.services, context.openid)}")


@router.event("scan")
async def scanned(message: BaseMessage, context: BotContext) -> Reply:
    """A follower scanned a parametric QR code: remember where, and welcome them."""
    await record_scan(context.services, context.openid, str(getattr(message, "scene_id", "")))
    return Text(texts.welcome(context.services))


@router.event("unsubscribe")
async def unsubscribed(message: BaseMessage, context: BotContext) -> Reply:
    """Unfollowed: marked on the follower; membership stays. Nobody reads a reply now."""
    await record_unsubscribe(context.services, context.openid)
    return None
