"""`GET/POST /wechat/official`: the Official Account webhook.

GET is WeChat's URL verification: a good signature gets `echostr` back, byte for byte.
POST is a message or event push, in the configured mode (`official.mode`):

- plain: the body is the message XML, replies are plain;
- compatible: plaintext fields plus `<Encrypt>`; when the request says `encrypt_type=aes` the
  encrypted copy is the one trusted and the reply is encrypted, else both are plain;
- safe: only `<Encrypt>`; a plaintext push is refused (400 `encryption_required`) and replies
  are always encrypted.

In plain mode an encrypted push (`encrypt_type=aes`, or an `<Encrypt>` element) is refused with
400 `encryption_not_enabled`: the console and `official.mode` disagree, and reading the
plaintext fields of a compatible-mode push would trust what nobody signed.

The body is read by `bot.push.xml_push` (the decrypted one too) and wechatpy parses only its
canonical re-rendering (`read_message`). Subscribe-message events (the Official Account's own
subscribe messages) are recorded for the member linked to the follower, exactly as the
mini-program's are (`bot.subscribe_events`), and answered `success`; so are WeChat's review of the
member card and the card's events in members' wallets (`bot.card_events`: `card_pass_check`,
`card_not_pass_check`, `user_get_card`, `user_del_card`, ...).

Every push is answered once (`bot.dedup`) and within the deadline
(`official.reply_deadline_seconds`): past it the webhook answers `success` and the answer goes
out as a customer-service message when ready (`bot.background`). Answers that depend on the
message alone (`pure` routes: the help text) skip both, as a repeat gets the same answer anyway;
that keeps the commonest push free of Redis round trips. Messages wechatpy does not know, and
events without a handler, get `success`.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from wechatpy.messages import BaseMessage, UnknownMessage

from bot import dedup
from bot.background import spawn
from bot.card_events import card_review, record_card_review, record_wallet_push, wallet_event
from bot.context import BotContext
from bot.crypto import PushCrypto, push_crypto
from bot.dispatch import run, select_route
from bot.messages import message_of
from bot.push import (
    SUCCESS,
    Push,
    decrypt,
    malformed_xml,
    read_body,
    refuse,
    text,
    verify_query,
    xml_push,
)
from bot.replies import Reply, send_later
from bot.replies import render as render_reply
from bot.subscribe_events import record_once, subscribe_event
from handlers.followers.links import follower_alias
from handlers.subscriptions.events import OFFICIAL
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.wechat import WeChatError

log = logging.getLogger(__name__)


def _crypto(config: Config) -> PushCrypto | None:
    official = config.official
    key = official.encoding_aes_key.get_secret_value()
    if not key:
        return None
    return push_crypto(official.token.get_secret_value(), key, official.appid)


async def verify_url(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[keys.CONFIG]
    services = request.config_dict[keys.SERVICES]
    verify_query(
        request.query,
        config.official.token.get_secret_value(),
        config.official.timestamp_window_seconds,
        services.clock.now().timestamp(),
    )
    echostr = request.query.get("echostr")
    if not echostr:
        raise refuse(ValidationFailed("echostr is missing.", code="missing_echostr"))
    return web.Response(text=echostr, content_type="text/plain")


async def receive(request: web.Request) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    config = request.config_dict[keys.CONFIG]
    services = request.config_dict[keys.SERVICES]
    deadline = loop.time() + config.official.reply_deadline_seconds
    query = verify_query(
        request.query,
        config.official.token.get_secret_value(),
        config.official.timestamp_window_seconds,
        services.clock.now().timestamp(),
    )
    mode = config.official.mode
    if mode == "plain" and query.encrypted:
        raise _not_enabled()
    body = await read_body(request, config.bot.max_body_bytes)
    envelope = xml_push(body)
    crypto = _crypto(config)
    if query.encrypted:
        push = xml_push(decrypt(crypto, text(envelope, "Encrypt"), query))
    elif mode == "safe":
        raise refuse(
            ValidationFailed("Safe mode takes encrypted pushes only.", code="encryption_required")
        )
    elif mode == "plain" and "Encrypt" in envelope:
        raise _not_enabled()
    else:
        push = envelope
    event = subscribe_event(push)
    if event is not None:
        await record_once(services, OFFICIAL, push, event)
        return _success()
    approved = card_review(push)
    if approved is not None:
        await record_card_review(services, push, approved)
        return _success()
    wallet = wallet_event(push)
    if wallet is not None:
        await record_wallet_push(services, push, wallet)
        return _success()
    message = read_message(push)
    if isinstance(message, UnknownMessage) or not text(push, "FromUserName"):
        log.warning("push ignored: unknown message type %r", text(push, "MsgType")[:32])
        return _success()
    reply = await _answer(request, services, message, push, deadline)
    if reply == SUCCESS:
        return _success()
    if query.encrypted:
        assert crypto is not None
        reply = crypto.encrypt(reply, query.nonce, query.timestamp)
    return web.Response(text=reply, content_type="application/xml")


def _not_enabled() -> DomainError:
    return refuse(
        ValidationFailed(
            'This Official Account is configured plain (official.mode = "plain"); '
            "encrypted pushes are not accepted.",
            code="encryption_not_enabled",
        )
    )


def read_message(push: Push) -> BaseMessage:
    """The wechatpy message of a push read by `xml_push`; 400 `malformed_xml` without MsgType.

    The message is what wechatpy's `parse_message` makes of the canonical rendering
    (`render_xml`), built from the checked data directly, without writing XML and parsing it
    again: the same fields (empty ones left out, repeated ones as lists) and the same class.
    """
    if not text(push, "MsgType"):
        raise malformed_xml("The push is not a message (no MsgType).")
    return message_of(push)


def _success() -> web.Response:
    return web.Response(text=SUCCESS, content_type="text/plain")


async def _answer(
    request: web.Request,
    services: Services,
    message: BaseMessage,
    push: Push,
    deadline: float,
) -> str:
    """The reply XML (plain) or `success`; runs the feature once per push, within the deadline."""
    route = select_route(message, services.config.bot)
    if route is None:
        return SUCCESS
    openid, unionid = text(push, "FromUserName"), text(push, "UnionId") or None
    context = BotContext(services, openid=openid, unionid=unionid)
    now = int(services.clock.now().timestamp())
    if route.pure:  # the same message always gets the same answer: nothing to deduplicate
        return render_reply(await run(route, message, context), message, now) or SUCCESS
    key = dedup.push_key("official", push)
    dedup_seconds = services.config.retention.push_dedup_seconds
    # The stamps of the member this follower was last seen as come with the claim: one round
    # trip fewer for the answer (a stamp read before the member's row, as always).
    known = services.members.known_alias(follower_alias(openid)) if route.needs_member else None
    reads = services.members.stamp_reads(known)
    claimed, stamps = await dedup.claim_and_read(services.lane, key, dedup_seconds, reads)
    if not claimed:
        return await dedup.answer_of_first(services.lane, key, deadline)
    services.members.stamps_read(known, stamps)
    work = spawn(request.app, run(route, message, context))
    remaining = deadline - asyncio.get_running_loop().time()
    done, _ = await asyncio.wait({work}, timeout=max(0.0, remaining))
    if work not in done:
        log.info("bot answer late; it goes out as a customer-service message")
        await dedup.remember(services.lane, key, SUCCESS, dedup_seconds)
        spawn(request.app, _deliver_late(services, openid, work))
        return SUCCESS
    reply = render_reply(work.result(), message, now) or SUCCESS
    await dedup.remember(services.lane, key, reply, dedup_seconds)
    return reply


async def _deliver_late(services: Services, openid: str, work: asyncio.Task[Reply]) -> None:
    reply = await work
    try:
        await send_later(services.official, openid, reply)
    except WeChatError as exc:
        log.warning("late bot answer not delivered: %s", exc)


def setup(app: web.Application) -> None:
    app.router.add_get("/official", verify_url)
    app.router.add_post("/official", receive)
