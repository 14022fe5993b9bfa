"""Template messages to members, for reminders and campaigns alike: WeChat's value rules and
mappings (templates), one shared send budget (pacing), and sending each at most once (sending).
"""

from __future__ import annotations

from handlers.messaging.sending import (
    Delivery,
    forget_member,
    recipient,
    recover_stale,
    send_message,
    settle,
    skip,
)

__all__ = [
    "Delivery",
    "forget_member",
    "recipient",
    "recover_stale",
    "send_message",
    "settle",
    "skip",
]
