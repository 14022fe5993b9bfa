"""Composes the feature routers and answers one parsed message.

Text is matched against the keyword table (the features' keywords plus `[bot] keywords` from
the config, all normalised), and so is a voice message's `Recognition` (the text WeChat heard,
when the account has speech recognition on); menu CLICK events by their key; other events by
name. Unknown text, unknown menu keys, voice without recognised text and other messages
(images, ...) get the help action; events nobody registered get no reply. Domain errors become
friendly texts; anything unexpected is logged and the follower gets an apology, never silence.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from wechatpy.messages import BaseMessage, TextMessage, VoiceMessage

from bot import texts
from bot.context import BotContext
from bot.features import card, checkin, coupons, follow, help, points, tier
from bot.replies import Reply, Text
from bot.router import Route, Router, normalize
from handlers.followers.links import card_holder
from wxmember.core.config import BotConfig
from wxmember.core.errors import CardRequired, DomainError
from wxmember.core.wechat import WeChatError

log = logging.getLogger(__name__)

HELP_ACTION = "help"

ROUTER = Router.compose(
    feature.router for feature in (checkin, points, coupons, card, tier, help, follow)
)


@lru_cache(maxsize=8)
def _keyword_overrides(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {normalize(word): action for word, action in pairs}


def keyword_action(content: str, config: BotConfig) -> str | None:
    """The action a text names, after normalisation; None when no keyword matches."""
    word = normalize(content)
    overrides = _keyword_overrides(tuple(sorted(config.keywords.items())))
    return overrides.get(word) or ROUTER.keywords.get(word)


def select_route(message: BaseMessage, config: BotConfig) -> Route | None:
    """The route answering a message, or None when it needs no answer."""
    if isinstance(message, TextMessage | VoiceMessage):
        said = message.content if isinstance(message, TextMessage) else message.recognition
        action = keyword_action(said or "", config) or HELP_ACTION
    elif message.type == "event":
        if message.event != "click":
            return ROUTER.events.get(message.event)
        action = ROUTER.menu_keys.get(str(message.key or "").upper(), HELP_ACTION)
    else:
        action = HELP_ACTION
    return ROUTER.actions[action]


async def run(route: Route, message: BaseMessage, context: BotContext) -> Reply:
    """Run a route's handler for a message and return its answer, never raising."""
    try:
        if route.needs_member:
            try:
                context.follower, context.member = await card_holder(
                    context.services, context.openid, unionid=context.unionid
                )
            except CardRequired:
                return Text(await texts.join_invitation(context.services, context.openid))
        return await route.handler(message, context)
    except DomainError as exc:
        log.info("bot %s refused: %s", route.name, exc.code)
        return Text(texts.friendly_error(exc))
    except WeChatError as exc:
        log.warning("bot %s: WeChat call failed: %s", route.name, exc)
        return Text(texts.ERROR_TEXTS["upstream_unavailable"])
    except Exception:
        log.exception("bot %s failed", route.name)
        return Text(texts.SORRY)
