"""Subscribe-message grants: count a member's accepts, spend one per message, revoke."""

from __future__ import annotations

from handlers.subscriptions.grants import (
    consume_grant,
    forget_member,
    record_grants,
    remaining_grants,
    revoke,
)

__all__ = ["consume_grant", "forget_member", "record_grants", "remaining_grants", "revoke"]
