"""Subscribe-message events as both webhooks receive them, recorded once per push.

The mini-program push and the Official Account push carry the same events
(`subscribe_msg_popup_event`, `..._change_event`, `..._sent_event`) in the same shape: the items
sit in `List` under the event's element (`SubscribeMsgPopupEvent`, ...), one item as an object
and several as an array; JSON may also put them directly under the event's element or under a
top-level `List`. Every shape becomes a list of `SubscribeItem`s; items without a plausible
template id are dropped. What an event does to the grants is `handlers.subscriptions`'s.
"""

from __future__ import annotations

import re

from bot import dedup
from bot.push import SUCCESS, Data, Push, text
from handlers.subscriptions.events import (
    CHANGE,
    POPUP,
    SENT,
    SubscribeItem,
    record_subscribe_event,
)
from wxmember.core.context import Services

_CONTAINERS = {
    POPUP: "SubscribeMsgPopupEvent",
    CHANGE: "SubscribeMsgChangeEvent",
    SENT: "SubscribeMsgSentEvent",
}
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def subscribe_event(push: Push) -> str | None:
    """The subscribe-message event a push reports (lower case), or None for any other push."""
    event = text(push, "Event").lower()
    return event if event in _CONTAINERS else None


def subscribe_items(push: Push, event: str) -> list[SubscribeItem]:
    """The items of a subscribe-message event, whatever shape `List` arrived in."""
    holder = push.get(_CONTAINERS[event])
    raw: Data | None
    if isinstance(holder, dict) and "List" in holder:
        raw = holder["List"]
    elif holder is not None:
        raw = holder
    else:
        raw = push.get("List")
    items: list[SubscribeItem] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            continue
        template_id = text(item, "TemplateId")
        if _TEMPLATE_ID.fullmatch(template_id):
            items.append(
                SubscribeItem(
                    template_id=template_id,
                    status=text(item, "SubscribeStatusString"),
                    error_code=text(item, "ErrorCode") or "0",
                )
            )
    return items


async def record_once(services: Services, account: str, push: Push, event: str) -> None:
    """Record a subscribe-message event pushed to `account` unless a delivery of it did already.

    A failure releases the claim, so WeChat's retry records the event.
    """
    key = dedup.push_key(account, push)
    dedup_seconds = services.config.retention.push_dedup_seconds
    if not await dedup.claim(services.lane, key, dedup_seconds):
        return
    try:
        await record_subscribe_event(
            services, account, text(push, "FromUserName"), event, subscribe_items(push, event)
        )
    except BaseException:
        await services.redis.delete(key)
        raise
    await dedup.remember(services.lane, key, SUCCESS, dedup_seconds)
