"""The wallet sync's backlog, as operators see it: how many members hold the card, how many
cards are waiting to be sent or failing, and the latest failures with WeChat's words.

A card is failing while `last_error` is kept: retrying (a transient failure, or the card not
yet approved, with `next_attempt_at`), or parked (`parked`: WeChat refused it for good, e.g.
the member deleted the card; the member's next change tries again). Card numbers are shown
masked; an error never holds a token or a secret (see `wallet_sync`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import F

from wxmember.core.models.wallet_card import HolderState, WalletCardHolder

LATEST_FAILURES = 10


def mask_card_no(card_no: str) -> str:
    """A card number with all but its first and last four digits hidden."""
    if len(card_no) <= 8:
        return card_no[:2] + "*" * max(0, len(card_no) - 2)
    return card_no[:4] + "*" * (len(card_no) - 8) + card_no[-4:]


async def _oldest(field: str, **filters: Any) -> datetime | None:
    row = await WalletCardHolder.filter(**filters).order_by(field).first()
    return None if row is None else getattr(row, field)


def _failure(row: WalletCardHolder) -> dict[str, Any]:
    parked = row.wanted_version <= row.sent_version
    return {
        "member_id": row.member_id,
        "card_no": mask_card_no(row.code),
        "attempts": row.attempts,
        "last_error": row.last_error or "",
        "parked": parked,
        "next_attempt_at": None if parked else row.attempt_after,
        "failed_at": row.updated_at,
    }


async def member_wallet(member_id: int) -> dict[str, Any] | None:
    """The card in one member's wallet, for the member's page; None when never added.

    `state`: `deleted`, `to_activate` (added, not activated yet), `waiting` (a change not sent
    yet) or `in_step`; with the balance WeChat last took, when, and the last error if failing.
    """
    row = await WalletCardHolder.get_or_none(member_id=member_id)
    if row is None:
        return None
    if row.state == HolderState.DELETED:
        state = "deleted"
    elif row.activated_at is None:
        state = "to_activate"
    elif row.wanted_version > row.sent_version:
        state = "waiting"
    else:
        state = "in_step"
    return {
        "state": state,
        "sent_bonus": row.sent_bonus,
        "sent_at": row.sent_at,
        "deleted_at": row.deleted_at,
        "last_error": row.last_error,
    }


async def sync_backlog() -> dict[str, Any]:
    """The backlog of the wallet sync, now."""
    held = WalletCardHolder.filter(state=HolderState.HELD)
    waiting = dict(state=HolderState.HELD, wanted_version__gt=F("sent_version"))
    last_sent = await _oldest("sent_at", sent_at__isnull=False, **waiting)
    never_sent = await _oldest("added_at", sent_at__isnull=True, **waiting)
    oldest = min((at for at in (last_sent, never_sent) if at is not None), default=None)
    failures = (
        await WalletCardHolder.filter(state=HolderState.HELD, last_error__isnull=False)
        .order_by("-updated_at", "-id")
        .limit(LATEST_FAILURES)
    )
    return {
        "held": await held.count(),
        "activated": await held.filter(activated_at__isnull=False).count(),
        "waiting": await WalletCardHolder.filter(**waiting).count(),
        "failing": await held.filter(last_error__isnull=False).count(),
        "oldest_waiting_since": oldest,
        "latest_failures": [_failure(row) for row in failures],
    }
