"""The answer about the member card's definition, for the staff API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from wxmember.core.answers import Answer


class WalletCardShown(Answer):
    """The member card's definition and what WeChat said about it (version 0: never saved).

    `review_state`: draft (never sent), submitted (WeChat is reviewing it), approved (live in
    the card wallet) or rejected (`refuse_reason` says why). `in_sync` is false while the last
    save has not reached WeChat; `sync_error` is the last failed sending, if any.
    """

    logo_url: str
    color: str
    color_hex: str
    title: str
    notice: str
    description: str
    prerogative: str
    show_points: bool
    show_tier: bool
    show_coupons: bool
    card_id: str | None
    review_state: Literal["draft", "submitted", "approved", "rejected"]
    refuse_reason: str | None
    sync_error: str | None
    version: int
    synced_version: int
    in_sync: bool
    updated_at: datetime | None
    synced_at: datetime | None
    reviewed_at: datetime | None
    operator_id: int | None
