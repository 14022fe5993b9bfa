"""A member's card events from WeChat's wallet, as staff see them on the member's record.

What WeChat told us about the card in this member's wallet (added, deleted, opened, the
activation form submitted, ...), newest first, with the push's own fields (`OuterStr`,
`ModifyBonus`, ...) as kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wxmember.core.answers import Answer
from wxmember.core.kernel import continue_after, get_member
from wxmember.core.models.wallet_card import WalletCardEvent


class WalletCardEventShown(Answer):
    """One push about the card in the member's wallet: `event` is WeChat's name for it
    (`user_get_card`, `user_del_card`, `user_view_card`, `user_enter_session_from_card`,
    `submit_membercard_user_info`, `update_member_card`); `detail` the push's other fields."""

    id: int
    event: str
    card_id: str
    code: str | None
    detail: dict[str, str]
    received_at: datetime


class WalletCardEventPage(Answer):
    items: list[WalletCardEventShown]
    next_cursor: str | None


async def member_wallet_events(
    member_id: int, after_id: int | None, limit: int
) -> list[WalletCardEvent]:
    """A member's wallet events, newest first, `limit + 1` of them (the caller pages).

    404 `member_not_found` for an unknown member (asked only when the page is empty).
    """
    query = continue_after(WalletCardEvent.filter(member_id=member_id).order_by("-id"), after_id)
    found = await query.limit(limit + 1)
    if not found:
        await get_member(member_id, include_deleted=True)
    return found


def event_public(event: WalletCardEvent) -> dict[str, Any]:
    """One wallet event as staff see it."""
    return {
        "id": event.id,
        "event": event.event,
        "card_id": event.card_id,
        "code": event.code,
        "detail": dict(event.detail or {}),
        "received_at": event.created_at.isoformat(),
    }
