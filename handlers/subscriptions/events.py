"""Subscribe-message events that WeChat pushes, applied to the member's grants.

The mini-program and the Official Account push the same three events about their own subscribe
messages, each carrying one or more items (template, status, error):

- `subscribe_msg_popup_event`: the member answered a prompt; each `accept` is one grant;
- `subscribe_msg_change_event`: the member turned templates off in settings (`reject`): none
  remain;
- `subscribe_msg_sent_event`: the result of a send; error 43101 (the member has no grant left,
  or refused) zeroes our count too, other errors are only logged.

The push's sender is a mini-program openid (the member's own) or an Official Account openid (the
member linked to that follower); pushes for anyone else change nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.followers.links import linked_member
from handlers.subscriptions.grants import (
    SOURCE_OFFICIAL_PUSH,
    SOURCE_PUSH,
    record_grants,
    revoke,
)
from wxmember.core.context import Services
from wxmember.core.models import Member

log = logging.getLogger(__name__)

POPUP = "subscribe_msg_popup_event"
CHANGE = "subscribe_msg_change_event"
SENT = "subscribe_msg_sent_event"
EVENTS = (POPUP, CHANGE, SENT)

MINIAPP = "miniapp"
OFFICIAL = "official"

NO_GRANT_LEFT = "43101"


@dataclass(frozen=True)
class SubscribeItem:
    """One item of an event: a template and what happened to it."""

    template_id: str
    status: str = ""
    error_code: str = "0"


async def record_subscribe_event(
    services: Services, account: str, openid: str, event: str, items: list[SubscribeItem]
) -> bool:
    """Apply an event pushed by `account` (MINIAPP or OFFICIAL) for `openid`; False if nobody's."""
    member = await _member(account, openid)
    if member is None:
        log.info("subscribe event for an unknown %s user ignored", account)
        return False
    if event == POPUP:
        accepted = [item.template_id for item in items if item.status == "accept"]
        if accepted:
            source = SOURCE_PUSH if account == MINIAPP else SOURCE_OFFICIAL_PUSH
            await record_grants(services, member.id, accepted, source=source)
    elif event == CHANGE:
        for item in items:
            if item.status == "reject":
                await revoke(member.id, item.template_id)
    elif event == SENT:
        for item in items:
            if item.error_code not in ("", "0"):
                log.info("subscribe message to a member failed: %s", item.error_code[:16])
            if item.error_code == NO_GRANT_LEFT:
                await revoke(member.id, item.template_id)
    return True


async def _member(account: str, openid: str) -> Member | None:
    if not openid:
        return None
    if account == OFFICIAL:
        return await linked_member(openid)
    return await Member.get_or_none(openid=openid, deleted_at__isnull=True)
