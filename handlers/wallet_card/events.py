"""The member card's events in members' wallets, as WeChat pushes them to the Official Account.

`user_get_card` (added), `user_del_card` (deleted), `user_view_card` (opened in the wallet),
`user_enter_session_from_card` (went from the card to the account), `submit_membercard_user_info`
(filled in the activation form) and `update_member_card` (WeChat's notice after an update:
`ModifyBonus`, `ModifyBalance`). Each push is kept once in `WalletCardEvent` under its key (the
sender, its CreateTime, the event and the code): WeChat's retries, even concurrent ones, find the
key taken and change nothing. The code is the member's card number, which links the event to
the member; a code nobody holds, or an event about another card, is kept without a member and
logged.

Effects, in the transaction that keeps the event:

- `user_get_card` makes the member's holder row (held, to be activated and sent) or revives a
  deleted one: WeChat's new entry is not activated, so it is activated again, with the state as
  it is then (`wanted_version` bumped).
- `user_del_card` marks it deleted, which stops its updates until the card is added again.

Pushes may arrive out of order (a retry of an old one, or two in flight at once), so the holder
keeps WeChat's own time of the last add (`added_at`) and delete (`deleted_at`): the CreateTime
of those pushes, in whole seconds. A delete applies only if it is not older than the add it
would undo, and an add revives only if it is not older than the delete; anything older is kept
as an event and otherwise ignored. Ties go to the later arrival: WeChat's times have one
second's grain, and a member rarely adds and deletes within one second. Receipt time would not
do: a delete made in the same second as the add would look older than an add stamped on arrival.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from handlers.wallet_card.definition import DEFINITION_ID
from wxmember.core.context import Services
from wxmember.core.kernel import insert_once
from wxmember.core.models import Member
from wxmember.core.models.wallet_card import (
    HolderState,
    WalletCard,
    WalletCardEvent,
    WalletCardHolder,
)

log = logging.getLogger(__name__)

GET = "user_get_card"
DELETE = "user_del_card"
WALLET_EVENTS = frozenset(
    {
        GET,
        DELETE,
        "user_view_card",
        "user_enter_session_from_card",
        "submit_membercard_user_info",
        "update_member_card",
    }
)
"""The card events about one member's card (lower case, as matched)."""


@dataclass(frozen=True)
class WalletPush:
    """One wallet event as pushed: who, when (WeChat's CreateTime), which card and code."""

    event: str
    openid: str
    create_time: int
    card_id: str
    code: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.openid[:64]}:{self.create_time}:{self.event}:{self.code[:32]}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.create_time, UTC)


async def record_wallet_event(services: Services, push: WalletPush) -> bool:
    """Keep a wallet event once and apply it; False when a delivery of it was kept already."""
    now = services.clock.now()
    member = await _member_of(push)
    async with in_transaction() as conn:
        kept = await insert_once(
            WalletCardEvent,
            conn,
            push_key=push.key,
            event=push.event,
            card_id=push.card_id[:64],
            code=push.code[:32] or None,
            official_openid=push.openid[:64] or None,
            member_id=member.id if member is not None else None,
            detail=push.detail,
            created_at=now,
        )
        if kept is None:
            log.info("wallet card event repeated", extra={"event": push.event})
            return False
        if member is not None and push.event == GET:
            await _added(conn, services, member, push)
        elif member is not None and push.event == DELETE:
            await _deleted(conn, services, member, push)
    return True


async def _member_of(push: WalletPush) -> Member | None:
    """The member whose card the push is about, or None (logged)."""
    ours = await WalletCard.filter(id=DEFINITION_ID).values_list("card_id", flat=True)
    if not ours or ours[0] != push.card_id:
        log.warning("wallet card event about another card", extra={"event": push.event})
        return None
    member = None
    if push.code:
        member = await Member.get_or_none(card_no=push.code, deleted_at__isnull=True)
    if member is None:
        log.warning("wallet card event for an unknown code", extra={"event": push.event})
    return member


async def _locked_holder(conn: BaseDBAsyncClient, member: Member) -> WalletCardHolder | None:
    return (
        await WalletCardHolder.select_for_update().using_db(conn).get_or_none(member_id=member.id)
    )


async def _added(
    conn: BaseDBAsyncClient, services: Services, member: Member, push: WalletPush
) -> None:
    now = services.clock.now()
    created = await insert_once(
        WalletCardHolder,
        conn,
        member_id=member.id,
        card_id=push.card_id,
        code=push.code,
        official_openid=push.openid[:64] or None,
        state=HolderState.HELD,
        activated_at=None,
        wanted_version=1,
        sent_version=0,
        attempt_after=now,
        attempts=0,
        added_at=push.at,
        updated_at=now,
    )
    if created is not None:
        log.info("member card added to a wallet", extra={"member": member.id})
        return
    holder = await _locked_holder(conn, member)
    if holder is None:  # the code is held under another member's row: nothing of ours to revive
        log.warning("wallet card code held by another row", extra={"member": member.id})
        return
    newer = holder.deleted_at if holder.state == HolderState.DELETED else holder.added_at
    if newer is not None and push.at < newer:
        log.info("stale wallet card add ignored", extra={"member": member.id})
        return
    if holder.state == HolderState.HELD and push.at == holder.added_at:
        return  # the same add, pushed again under another key
    # a new entry in the wallet: WeChat has it not activated, so activate and send again
    await (
        WalletCardHolder.filter(id=holder.id)
        .using_db(conn)
        .update(
            card_id=push.card_id,
            code=push.code,
            official_openid=push.openid[:64] or holder.official_openid,
            state=HolderState.HELD,
            activated_at=None,
            deleted_at=None,
            wanted_version=holder.wanted_version + 1,
            attempt_after=now,
            attempts=0,
            last_error=None,
            added_at=push.at,
            updated_at=now,
        )
    )
    log.info("member card added to a wallet again", extra={"member": member.id})


async def _deleted(
    conn: BaseDBAsyncClient, services: Services, member: Member, push: WalletPush
) -> None:
    holder = await _locked_holder(conn, member)
    if holder is None or holder.state == HolderState.DELETED or holder.code != push.code:
        return
    if push.at < holder.added_at:
        log.info("stale wallet card delete ignored", extra={"member": member.id})
        return
    await (
        WalletCardHolder.filter(id=holder.id)
        .using_db(conn)
        .update(state=HolderState.DELETED, deleted_at=push.at, updated_at=services.clock.now())
    )
    log.info("member card deleted from a wallet", extra={"member": member.id})
