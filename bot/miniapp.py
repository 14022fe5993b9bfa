"""`GET/POST /wechat/miniapp`: the mini-program message push (subscribe-message events).

Signed with `miniapp.token`; when `miniapp.encoding_aes_key` is set the push must be encrypted
(compatible or safe mode), else it is plaintext. The body is XML or JSON, as configured in the
mini-program console; both are read. Recorded events:

- `subscribe_msg_popup_event`: each `accept` is one grant of that template;
- `subscribe_msg_change_event`: the member turned a template off: no grants remain;
- `subscribe_msg_sent_event`: logged; error 43101 (no grant left) revokes our count too.

`List` is an object for one item and an array for several, in JSON and XML alike; JSON may also
carry the items directly under the event's element. Every shape is normalised to a list. The
answer is always `success` once the push is verified; a push is recorded once (`bot.dedup`).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web

from bot import dedup
from bot.crypto import PushCrypto
from bot.push import (
    SUCCESS,
    PushQuery,
    decrypt,
    element_data,
    parse_xml,
    read_body,
    refuse,
    verify_query,
)
from handlers.subscriptions.grants import SOURCE_PUSH, record_grants, revoke
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import Member

log = logging.getLogger(__name__)

_CONTAINERS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    "subscribe_msg_sent_event": "SubscribeMsgSentEvent",
}
_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NO_GRANT_LEFT = 43101


def _crypto(config: Config) -> PushCrypto | None:
    miniapp = config.miniapp
    key = miniapp.encoding_aes_key.get_secret_value()
    if not key:
        return None
    return PushCrypto(miniapp.token.get_secret_value(), key, miniapp.appid)


def _verify(request: web.Request) -> PushQuery:
    config = request.config_dict[keys.CONFIG]
    services = request.config_dict[keys.SERVICES]
    return verify_query(
        request.query,
        config.miniapp.token.get_secret_value(),
        config.official.timestamp_window_seconds,
        services.clock.now().timestamp(),
    )


async def verify_url(request: web.Request) -> web.StreamResponse:
    _verify(request)
    echostr = request.query.get("echostr")
    if not echostr:
        raise refuse(ValidationFailed("echostr is missing.", code="missing_echostr"))
    return web.Response(text=echostr, content_type="text/plain")


async def receive(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[keys.CONFIG]
    services = request.config_dict[keys.SERVICES]
    query = _verify(request)
    body = await read_body(request, config.bot.max_body_bytes)
    crypto = _crypto(config)
    if crypto is not None and not query.encrypted:
        raise refuse(ValidationFailed("Pushes must be encrypted here.", code="encryption_required"))
    data = load_push(body)
    if query.encrypted:
        data = load_push(decrypt(crypto, str(data.get("Encrypt", "")), query).encode())
    await _record_once(services, data)
    return web.Response(text=SUCCESS, content_type="text/plain")


def load_push(body: bytes) -> dict[str, Any]:
    """A push body, XML or JSON, as a dict."""
    head = body.lstrip()[:1]
    if head == b"<":
        data = element_data(parse_xml(body))
    elif head == b"{":
        try:
            data = json.loads(body)
        except ValueError:
            raise refuse(
                ValidationFailed("The body is not valid JSON.", code="malformed_push")
            ) from None
    else:
        raise refuse(ValidationFailed("The body is neither XML nor JSON.", code="malformed_push"))
    if not isinstance(data, dict):
        raise refuse(ValidationFailed("The push must be an object.", code="malformed_push"))
    return data


def subscribe_items(data: dict[str, Any], event: str) -> list[dict[str, str]]:
    """The items of a subscribe-message event, whatever shape `List` arrived in."""
    holder = data.get(_CONTAINERS[event])
    if isinstance(holder, dict) and "List" in holder:
        raw: Any = holder["List"]
    elif holder is not None:
        raw = holder
    else:
        raw = data.get("List")
    items = raw if isinstance(raw, list) else [raw]
    return [
        {str(k): str(v) for k, v in item.items()}
        for item in items
        if isinstance(item, dict) and _TEMPLATE_ID.match(str(item.get("TemplateId", "")))
    ]


async def _record_once(services: Services, data: dict[str, Any]) -> None:
    event = str(data.get("Event", "")).lower()
    if event not in _CONTAINERS:
        log.info("mini-program push ignored: %r", event[:48] or data.get("MsgType"))
        return
    flat = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
    key = dedup.push_key("miniapp", flat)
    if not await dedup.claim(services.redis, key):
        return
    try:
        await record_event(services, data, event)
    except BaseException:
        await services.redis.delete(key)  # let WeChat's retry record it
        raise
    await dedup.remember(services.redis, key, SUCCESS)


async def record_event(services: Services, data: dict[str, Any], event: str) -> None:
    """Apply one subscribe-message event to the member's grants."""
    openid = str(data.get("FromUserName", ""))
    member = await Member.get_or_none(openid=openid, deleted_at__isnull=True) if openid else None
    if member is None:
        log.info("subscribe event for an unknown mini-program user ignored")
        return
    items = subscribe_items(data, event)
    if event == "subscribe_msg_popup_event":
        accepted = [i["TemplateId"] for i in items if i.get("SubscribeStatusString") == "accept"]
        if accepted:
            await record_grants(services, member.id, accepted, source=SOURCE_PUSH)
    elif event == "subscribe_msg_change_event":
        for item in items:
            if item.get("SubscribeStatusString") == "reject":
                await revoke(member.id, item["TemplateId"])
    else:
        for item in items:
            code = item.get("ErrorCode", "0")
            if code != "0":
                log.info("subscribe message to a member failed: %s", code)
            if code == str(NO_GRANT_LEFT):
                await revoke(member.id, item["TemplateId"])


def setup(app: web.Application) -> None:
    app.router.add_get("/miniapp", verify_url)
    app.router.add_post("/miniapp", receive)
