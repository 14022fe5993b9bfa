"""What a bot feature answers, and the two ways it reaches the follower.

Features return `Text`, `Image` or None (nothing to say). Within the 5-second window the answer
is a passive reply (`render`); after it, the same answer goes out as a customer-service message
through our WeChat client.
"""

from __future__ import annotations

from dataclasses import dataclass

from wechatpy.messages import BaseMessage

from wxmember.core.wechat import WeChatClient


@dataclass(frozen=True)
class Text:
    content: str


@dataclass(frozen=True)
class Image:
    media_id: str


Reply = Text | Image | None


def render(reply: Reply, message: BaseMessage, now: int) -> str:
    """The passive-reply XML for a message ("" when there is nothing to say).

    The fields of WeChat's passive reply, as wechatpy's `TextReply`/`ImageReply` give them,
    written in one format string: the reply is on the webhook's hot path, and wechatpy builds
    it field object by field object. Text goes in CDATA; a `]]>` inside it is split across two
    sections (wechatpy writes it as is, which ends the section early and breaks the document).
    """
    if isinstance(reply, Text):
        body = f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(reply.content)}</Content>"
    elif isinstance(reply, Image):
        media = _cdata(reply.media_id)
        body = f"<MsgType><![CDATA[image]]></MsgType><Image><MediaId>{media}</MediaId></Image>"
    else:
        return ""
    return (
        f"<xml><ToUserName>{_cdata(message.source)}</ToUserName>"
        f"<FromUserName>{_cdata(message.target)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime>{body}</xml>"
    )


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


async def send_later(client: WeChatClient, openid: str, reply: Reply) -> None:
    """Deliver an answer that missed the window as a customer-service message."""
    if isinstance(reply, Text):
        await client.send_custom_text(openid, reply.content)
    elif isinstance(reply, Image):
        await client.send_custom_image(openid, reply.media_id)
