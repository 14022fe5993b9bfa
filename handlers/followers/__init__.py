"""Official Account followers and their link to members."""

from __future__ import annotations

from handlers.followers.links import (
    complete_binding,
    create_binding_token,
    get_follower,
    link_member_follower,
    linked_member,
    record_scan,
    record_subscribe,
    record_unsubscribe,
    resolve_member,
    unlink_member,
)

__all__ = [
    "complete_binding",
    "create_binding_token",
    "get_follower",
    "link_member_follower",
    "linked_member",
    "record_scan",
    "record_subscribe",
    "record_unsubscribe",
    "resolve_member",
    "unlink_member",
]
