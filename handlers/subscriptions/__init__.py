"""Subscribe-message grants: count a member's accepts, spend one per message, revoke; and the
subscribe-message events WeChat pushes about them."""

from __future__ import annotations

from handlers.subscriptions.events import SubscribeItem, record_subscribe_event
from handlers.subscriptions.grants import (
    consume_grant,
    forget_member,
    record_grants,
    remaining_grants,
    revoke,
)

__all__ = [
    "SubscribeItem",
    "consume_grant",
    "forget_member",
    "record_grants",
    "record_subscribe_event",
    "remaining_grants",
    "revoke",
]
