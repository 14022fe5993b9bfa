"""`GET/POST /wechat/miniapp`: the mini-program message push (subscribe-message events).

Signed with `miniapp.token`; when `miniapp.encoding_aes_key` is set the push must be encrypted
(compatible or safe mode: 400 `encryption_required` otherwise), else it is plaintext and an
encrypted push is refused with 400 `encryption_not_enabled`. The body is XML or JSON, as
configured in the mini-program console; both are read (`bot.push.load_push`). The
subscribe-message events are recorded (`bot.subscribe_events`, the rules in
`handlers.subscriptions.events`), once per push (`bot.dedup`); other pushes are acknowledged.
The answer is always `success` once the push is verified and read.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.crypto import PushCrypto, push_crypto
from bot.push import (
    SUCCESS,
    PushQuery,
    decrypt,
    load_push,
    read_body,
    refuse,
    text,
    verify_query,
)
from bot.subscribe_events import record_once, subscribe_event
from handlers.subscriptions.events import MINIAPP
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)


def _crypto(config: Config) -> PushCrypto | None:
    miniapp = config.miniapp
    key = miniapp.encoding_aes_key.get_secret_value()
    if not key:
        return None
    return push_crypto(miniapp.token.get_secret_value(), key, miniapp.appid)


def _verify(request: web.Request) -> PushQuery:
    config = request.config_dict[keys.CONFIG]
    services = request.config_dict[keys.SERVICES]
    return verify_query(
        request.query,
        config.miniapp.token.get_secret_value(),
        config.official.timestamp_window_seconds,
        services.clock.now().timestamp(),
    )


def _not_enabled() -> DomainError:
    return refuse(
        ValidationFailed(
            "The mini-program push is configured plain (no miniapp.encoding_aes_key); "
            "encrypted pushes are not accepted.",
            code="encryption_not_enabled",
        )
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
    if crypto is None and query.encrypted:
        raise _not_enabled()
    if crypto is not None and not query.encrypted:
        raise refuse(ValidationFailed("Pushes must be encrypted here.", code="encryption_required"))
    push = load_push(body)
    if query.encrypted:
        push = load_push(decrypt(crypto, text(push, "Encrypt"), query))
    elif "Encrypt" in push:
        raise _not_enabled()
    event = subscribe_event(push)
    if event is None:
        log.info("mini-program push ignored: %r", text(push, "Event")[:48] or text(push, "MsgType"))
    else:
        await record_once(services, MINIAPP, push, event)
    return web.Response(text=SUCCESS, content_type="text/plain")


def setup(app: web.Application) -> None:
    app.router.add_get("/miniapp", verify_url)
    app.router.add_post("/miniapp", receive)
