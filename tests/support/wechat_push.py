"""Drive the WeChat push endpoints the way WeChat does.

Build the push (XML, or JSON for the mini-program), sign the query, encrypt with wechatpy's
crypto in compatible or safe mode, POST it, then verify and decrypt the reply and parse it.
The WeChat side uses wechatpy directly, never the service's own crypto, so the two meet only
in the protocol.

When given the fake WeChat state, a push also opens the customer-service window the real
platform opens for that interaction (a message, a menu click, a follow, a scan).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import xmltodict
from aiohttp.test_utils import TestClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from wxmember.core.config import Config
from wxmember.core.fake_wechat import FakeWeChat

OA_ID = "gh_0123456789ab"
MINIAPP_TOKEN = "miniapppushtoken"
MINIAPP_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
_counter = itertools.count(1)


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def push_xml(openid: str, msg_type: str, create_time: int, **fields: str | int) -> str:
    """A push document: the common header, then `fields` in order (ints bare, text in CDATA)."""
    parts = [
        f"<ToUserName>{_cdata(OA_ID)}</ToUserName>",
        f"<FromUserName>{_cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    for name, value in fields.items():
        text = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(openid: str, content: str, *, msg_id: int | None = None, at: int | None = None) -> str:
    msg_id = msg_id if msg_id is not None else 6_000_000_000_000_000_000 + next(_counter)
    return push_xml(openid, "text", at or int(time.time()), Content=content, MsgId=msg_id)


def voice_xml(
    openid: str, recognition: str | None, *, msg_id: int | None = None, at: int | None = None
) -> str:
    """A voice message; `Recognition` is what WeChat's speech recognition heard (None: off)."""
    msg_id = msg_id if msg_id is not None else 6_000_000_000_000_000_000 + next(_counter)
    fields: dict[str, str | int] = {"MediaId": "voice-media-1", "Format": "amr"}
    if recognition is not None:
        fields["Recognition"] = recognition
    return push_xml(openid, "voice", at or int(time.time()), **fields, MsgId=msg_id)


def event_xml(openid: str, event: str, key: str | None = None, *, at: int | None = None) -> str:
    fields: dict[str, str | int] = {"Event": event}
    if key is not None:
        fields["EventKey"] = key
    # distinct CreateTime per event: WeChat deduplicates events by sender + time
    return push_xml(openid, "event", (at or int(time.time())) + next(_counter), **fields)


@dataclass
class PushReply:
    """What the webhook answered, decrypted and parsed when it is a reply message."""

    status: int
    body: str
    encrypted: bool
    message: dict[str, Any] | None

    @property
    def is_success(self) -> bool:
        return self.status == 200 and self.body == "success"

    @property
    def content(self) -> str:
        assert self.message is not None, (self.status, self.body)
        assert self.message["MsgType"] == "text", self.message
        return str(self.message["Content"])

    @property
    def media_id(self) -> str:
        assert self.message is not None and self.message["MsgType"] == "image", self.message
        return str(self.message["Image"]["MediaId"])


_INTERACTIONS = {
    "text": "message",
    "voice": "message",
    "click": "click",
    "subscribe": "subscribe",
    "scan": "scan",
}


class OfficialPusher:
    """Pushes to `/wechat/official` as WeChat would for the app's config."""

    path = "/wechat/official"

    def __init__(
        self,
        client: TestClient,
        config: Config,
        fake: FakeWeChat | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        official = config.official
        self.client = client
        self.clock = clock
        self.token = official.token.get_secret_value()
        self.mode = official.mode
        self.crypto = WeChatCrypto(
            self.token, official.encoding_aes_key.get_secret_value(), official.appid
        )
        self.fake = fake

    def query(self, timestamp: int | None = None, nonce: str = "1320562132") -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(self.clock()))
        return {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    def body(self, xml: str, query: dict[str, str], *, encrypt: bool) -> tuple[str, dict[str, str]]:
        """The body WeChat would send for `xml`, and the query with what encryption adds."""
        if not encrypt:
            return xml, query
        sealed = self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
        encrypted = xmltodict.parse(sealed)["xml"]["Encrypt"]
        extra = {
            "encrypt_type": "aes",
            "msg_signature": sign(self.token, query["timestamp"], query["nonce"], encrypted),
        }
        sealed_field = f"<Encrypt>{_cdata(encrypted)}</Encrypt>"
        if self.mode == "compatible":
            body = xml.replace("</xml>", f"{sealed_field}</xml>")
        else:
            body = f"<xml><ToUserName>{_cdata(OA_ID)}</ToUserName>{sealed_field}</xml>"
        return body, query | extra

    async def post(
        self, body: str | bytes, query: dict[str, str], headers: dict[str, str] | None = None
    ) -> PushReply:
        response = await self.client.post(self.path, params=query, data=body, headers=headers)
        text = await response.text()
        return self.read_reply(response.status, text, query)

    def read_reply(self, status: int, text: str, query: dict[str, str]) -> PushReply:
        if status != 200 or not text.startswith("<xml>"):
            return PushReply(status, text, False, None)
        envelope = xmltodict.parse(text)["xml"]
        if "Encrypt" not in envelope:
            return PushReply(status, text, False, xmltodict.parse(text)["xml"])
        assert envelope["MsgSignature"] == sign(
            self.token, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
        )
        plain = self.crypto.decrypt_message(
            text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        return PushReply(status, text, True, xmltodict.parse(plain)["xml"])

    async def send(
        self, xml: str, *, encrypt: bool | None = None, timestamp: int | None = None
    ) -> PushReply:
        """Sign (and in compatible/safe mode encrypt) `xml`, post it, read the reply."""
        if self.fake is not None:
            self._open_window(xml)
        encrypt = self.mode != "plain" if encrypt is None else encrypt
        body, query = self.body(xml, self.query(timestamp), encrypt=encrypt)
        return await self.post(body, query)

    async def text(self, openid: str, content: str, **kwargs: Any) -> PushReply:
        return await self.send(text_xml(openid, content, at=int(self.clock()), **kwargs))

    async def click(self, openid: str, key: str) -> PushReply:
        return await self.send(event_xml(openid, "CLICK", key, at=int(self.clock())))

    async def event(self, openid: str, event: str, key: str | None = None) -> PushReply:
        return await self.send(event_xml(openid, event, key, at=int(self.clock())))

    def _open_window(self, xml: str) -> None:
        try:
            data = xmltodict.parse(xml)["xml"]
        except Exception:  # a malformed push opens nothing
            return
        kind, sender = data.get("MsgType"), data.get("FromUserName")
        if not isinstance(kind, str) or not isinstance(sender, str):
            return  # nor does one whose fields are not text
        if kind == "event":
            kind = str(data.get("Event", "")).lower()
        if kind in _INTERACTIONS:
            assert self.fake is not None
            self.fake.record_interaction(sender, _INTERACTIONS[kind])


class MiniappPusher:
    """Pushes to `/wechat/miniapp` as WeChat would: XML or JSON, encrypted when keyed."""

    path = "/wechat/miniapp"

    def __init__(self, client: TestClient, config: Config) -> None:
        miniapp = config.miniapp
        self.client = client
        self.token = miniapp.token.get_secret_value()
        key = miniapp.encoding_aes_key.get_secret_value()
        self.crypto = WeChatCrypto(self.token, key, miniapp.appid) if key else None

    def query(self, encrypted: str | None = None) -> dict[str, str]:
        """A signed query; for an `Encrypt` text, with `encrypt_type` and `msg_signature` too."""
        ts, nonce = str(int(time.time())), "7391028"
        query = {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}
        if encrypted is not None:
            query |= {
                "encrypt_type": "aes",
                "msg_signature": sign(self.token, ts, nonce, encrypted),
            }
        return query

    async def post(self, body: str | bytes, query: dict[str, str]) -> tuple[int, str]:
        data = body.encode() if isinstance(body, str) else body
        response = await self.client.post(self.path, params=query, data=data)
        return response.status, await response.text()

    async def send(
        self, payload: dict[str, Any] | str, *, encrypt: bool | None = None
    ) -> tuple[int, str]:
        """Post a JSON object or an XML document; returns (status, body)."""
        text = json.dumps(payload, ensure_ascii=False) if isinstance(payload, dict) else payload
        encrypt = self.crypto is not None if encrypt is None else encrypt
        if not encrypt:
            return await self.post(text, self.query())
        assert self.crypto is not None
        probe = self.query()
        sealed = self.crypto.encrypt_message(text, probe["nonce"], probe["timestamp"])
        encrypted = xmltodict.parse(sealed)["xml"]["Encrypt"]
        if isinstance(payload, dict):
            text = json.dumps({"ToUserName": "gh_miniapp0001", "Encrypt": encrypted})
        else:
            text = (
                f"<xml><ToUserName>{_cdata('gh_miniapp0001')}</ToUserName>"
                f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
            )
        return await self.post(text, self.query(encrypted))


def popup_event(
    openid: str, items: list[tuple[str, str]], *, as_xml: bool = False, at: int | None = None
) -> Any:
    """A `subscribe_msg_popup_event`: one (template, accept|reject) item or several.

    One item is an object and several an array under `List`, as WeChat sends them.
    """
    return subscribe_event(
        openid,
        "subscribe_msg_popup_event",
        "SubscribeMsgPopupEvent",
        [
            {"TemplateId": tid, "SubscribeStatusString": status, "PopupScene": "0"}
            for tid, status in items
        ],
        as_xml=as_xml,
        at=at,
    )


def sent_event(
    openid: str, template_id: str, msg_id: str, error_code: str, *, at: int | None = None
) -> Any:
    """A `subscribe_msg_sent_event` (JSON): the outcome of one subscribe message."""
    item = {"TemplateId": template_id, "MsgID": msg_id, "ErrorCode": error_code}
    item["ErrorStatus"] = "success" if error_code == "0" else "fail"
    return subscribe_event(
        openid, "subscribe_msg_sent_event", "SubscribeMsgSentEvent", [item], at=at
    )


def subscribe_event(
    openid: str,
    event: str,
    container: str,
    items: list[dict[str, str]],
    *,
    as_xml: bool = False,
    at: int | None = None,
    to: str = "gh_miniapp0001",
) -> Any:
    """A subscribe-message event from `openid`; a distinct CreateTime unless `at` is given."""
    created = at if at is not None else int(time.time()) + next(_counter)
    if as_xml:
        lists = "".join(
            "<List>"
            + "".join(f"<{k}>{_cdata(escape(v))}</{k}>" for k, v in item.items())
            + "</List>"
            for item in items
        )
        return (
            f"<xml><ToUserName>{_cdata(to)}</ToUserName>"
            f"<FromUserName>{_cdata(openid)}</FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType>{_cdata('event')}</MsgType><Event>{_cdata(event)}</Event>"
            f"<{container}>{lists}</{container}></xml>"
        )
    return {
        "ToUserName": to,
        "FromUserName": openid,
        "CreateTime": str(created),
        "MsgType": "event",
        "Event": event,
        "List": items[0] if len(items) == 1 else items,
    }
