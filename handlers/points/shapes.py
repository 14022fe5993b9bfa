"""Shapes: the answer models of the dicts this capability builds, shared by the channels."""

from __future__ import annotations

from datetime import datetime

from wxmember.core.answers import Answer
from wxmember.core.models.points import EntryKind


# built by `entry_public`
class LedgerEntry(Answer):
    """One change of a member's points; `expires_at` (UTC) for credits that expire."""

    id: int
    kind: EntryKind
    amount: int
    balance_after: int
    debt_change: int
    debt_after: int
    reason: str
    reference: str | None
    expires_at: datetime | None
    created_at: datetime


class LedgerPage(Answer):
    items: list[LedgerEntry]
    next_cursor: str | None
