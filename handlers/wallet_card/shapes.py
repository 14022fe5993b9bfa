"""The answers about the member card (its definition, the wallet sync's backlog), for the staff
API."""

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


# built by `handlers.wallet_card.backlog.sync_backlog`
class WalletSyncFailure(Answer):
    """A member's card whose last sending failed: retrying at `next_attempt_at`, or `parked`
    (refused for good; the member's next change tries again). The card number is masked."""

    member_id: int
    card_no: str
    attempts: int
    last_error: str
    parked: bool
    next_attempt_at: datetime | None
    failed_at: datetime


class WalletSyncShown(Answer):
    """The wallet sync's backlog: cards held in members' wallets, activated, waiting to be sent
    (a change not yet at WeChat), failing (their last sending failed), and since when the
    longest-waiting card has not been sent (its last sending, or its adding); the latest
    failures, newest first."""

    held: int
    activated: int
    waiting: int
    failing: int
    oldest_waiting_since: datetime | None
    latest_failures: list[WalletSyncFailure]
