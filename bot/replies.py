"""What a bot feature answers, and the two ways it reaches the follower.

Features return `Text`, `Image` or None (nothing to say). Within the 5-second window the answer
is a passive reply rendered by wechatpy; after it, the same answer goes out as a
customer-service message through our WeChat client.
"""

from __future__ import annotations

from dataclasses import dataclass

from wechatpy.messages import BaseMessage
from wechatpy.replies import ImageReply, TextReply

from wxmember.core.wechat import WeChatClient


@dataclass(frozen=True)
class Text:
    content: str


@dataclass(frozen=True)
class Image:
    media_id: str


Reply = Text | Image | None


def render(reply: Reply, message: BaseMessage, now: int) -> str:
    """The passive-reply XML for a message ("" when there is nothing to say)."""
    if isinstance(reply, Text):
        return TextReply(message=message, content=reply.content, time=now).render()
    if isinstance(reply, Image):
        return ImageReply(message=message, media_id=reply.media_id, time=now).render()
    return ""


async def send_later(client: WeChatClient, openid: str, reply: Reply) -> None:
    """Deliver an answer that missed the window as a customer-service message."""
    if isinstance(reply, Text):
        await client.send_custom_text(openid, reply.content)
    elif isinstance(reply, Image):
        await client.send_custom_image(openid, reply.media_id)
