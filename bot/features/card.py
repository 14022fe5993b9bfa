"""会员卡: the member's card face as an image.

The PNG comes from `cards.card_image` (cached there); uploading it to WeChat gives a media id
valid for 3 days, kept in Redis for 2.5 days under the card face's ETag, which changes with the
card version and with anything else printed on the face.
"""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot.context import BotContext
from bot.replies import Image, Reply
from bot.router import Router
from cards.card_image import card_image_etag, card_image_png

router = Router()

MEDIA_CACHE_SECONDS = int(2.5 * 86400)


def media_key(member_id: int, etag: str) -> str:
    return f"wxmember:bot:card-media:{member_id}:{etag}"


@router.action("card", keywords=["会员卡", "我的会员卡"], menu_keys=["CARD"], needs_member=True)
async def show_card(message: BaseMessage, context: BotContext) -> Reply:
    member = context.member
    assert member is not None
    services = context.services
    key = media_key(member.id, await card_image_etag(services, member))
    cached = await services.redis.get(key)
    if cached:
        return Image(cached.decode() if isinstance(cached, bytes) else str(cached))
    _, png = await card_image_png(services, member)
    uploaded = await services.official.upload_media(
        "image", f"card-{member.id}.png", png, "image/png"
    )
    media_id = str(uploaded["media_id"])
    await services.redis.set(key, media_id, ex=MEDIA_CACHE_SECONDS)
    return Image(media_id)
