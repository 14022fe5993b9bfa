"""Keeping members' cards in the WeChat wallet in step with the ledger: the sync outbox's sender.

The outbox is `wallet_card_holders` itself. The database bumps a held card's `wanted_version`
in the transaction of every change of what the card shows (migration 0017's triggers on the
member's points balance and tier and on their coupons), so a change that commits is a card to
send and a change rolled back is none. A held card with `wanted_version > sent_version` is due
once `attempt_after` has passed (the partial index `wallet_card_holders_due`).

`send_due` (run by the scheduler's leader, jobs/wallet_card.py) takes a batch of due cards and,
for each, with at most `concurrency` WeChat calls in flight:

1. claims it with a conditional UPDATE (free, or its claim lapsed): the row count says whether
   this sender won, so one member's card has one call in flight across processes;
2. reads the version it is sending, then the member as they are now (balance, tier, usable
   coupons, the reason of the latest points change): however many changes came before, one
   call carries the latest state, and a change after the read bumps the version again;
3. with no transaction open, activates the card when it never was (the activation carries the
   state) and otherwise calls `updateuser` with the absolute balance, so a repeat is harmless;
4. settles: `sent_version` becomes the version read, the claim is released.

A sender that dies between claim and settle leaves a claim that lapses after `CLAIM_SECONDS`;
the next round sends the latest state (at least once, never a lost update).

Failures: a transient one (WeChat busy, network, HTTP 5xx, rate limits) is retried with a
back-off (`wallet_sync.retry_base_seconds` doubling up to `retry_max_seconds`); so is an
activation refused because the card is not approved yet (40078, WeChat still reviewing it). An
activation refused otherwise is first checked with an `updateuser`: a code activated already
(by an earlier call whose answer was lost) takes it, and the card counts as activated. A
permanent refusal (the member deleted the card at WeChat, 40127; an unknown code, 40056) is
parked: `last_error` is kept and the card counts as sent up to that version, so it is not
retried in a loop; the member's next change tries again. An update refused because WeChat has
the code not activated (40078: a new entry the holder's activation missed) activates it again.
Errors recorded never hold a token or a secret (`WeChatError.__str__` is the path, errcode and
WeChat's message).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q

from handlers.points.reasons import member_reason
from handlers.wallet_card.definition import DEFINITION_ID
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon, CouponStatus
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.tiers import Tier
from wxmember.core.models.wallet_card import HolderState, WalletCard, WalletCardHolder
from wxmember.core.wechat import WeChatError
from wxmember.core.wechat.member_card import MemberCardState, activate_body, update_user_body

log = logging.getLogger(__name__)

# Longer than the calls of one card (activation, a check, with the client's retries); a claim
# left by a sender that died lapses by then and the card is sent again.
CLAIM_SECONDS = 60
CARD_NOT_APPROVED = 40078  # WeChat: invalid card status (not approved, or the code's state)
CARD_DELETED = 40127  # WeChat: the user deleted the card (or is giving it away)
ERROR_MAX = 512


@dataclass
class SyncSummary:
    """What a round did: cards claimed, and the outcome of each (`sent`, `activated`,
    `activate_again`, `retry`, `parked`, `gone`, `lost_claim`)."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Shown:
    show_points: bool
    show_tier: bool
    show_coupons: bool


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, WeChatError) else f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX]


def backoff(services: Services, attempts: int) -> timedelta:
    """The wait before the `attempts`-th retry: base, 2x base, 4x base ..., capped."""
    config = services.config.wallet_sync
    seconds = config.retry_base_seconds * (2 ** max(0, min(attempts - 1, 30)))
    return timedelta(seconds=min(seconds, config.retry_max_seconds))


async def due_ids(services: Services, limit: int) -> list[int]:
    """Held cards still to send whose time has come and that nobody has claimed."""
    now = services.clock.now()
    rows = (
        await WalletCardHolder.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            state=HolderState.HELD,
            wanted_version__gt=F("sent_version"),
            attempt_after__lte=now,
        )
        .order_by("attempt_after", "id")
        .limit(limit)
        .values("id")
    )
    return [int(row["id"]) for row in rows]


async def claim(services: Services, holder_id: int) -> datetime | None:
    """Claim one due card; its claim's end (the sender's token), or None if another has it."""
    now = services.clock.now()
    until = now + timedelta(seconds=CLAIM_SECONDS)
    won = await WalletCardHolder.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        id=holder_id,
        state=HolderState.HELD,
        wanted_version__gt=F("sent_version"),
    ).update(claimed_until=until)
    return until if won == 1 else None


async def _shown() -> _Shown | None:
    row = await WalletCard.filter(id=DEFINITION_ID).first()
    if row is None:
        return None
    return _Shown(row.show_points, row.show_tier, row.show_coupons)


async def member_state(
    services: Services, holder: WalletCardHolder, shown: _Shown
) -> MemberCardState:
    """What the member's card should show now."""
    member = await Member.get(id=holder.member_id)
    tier_name = ""
    if member.tier_id is not None:
        tier = await Tier.filter(id=member.tier_id).first()
        tier_name = tier.name if tier else ""
    coupons = await Coupon.filter(
        member_id=member.id, status=CouponStatus.UNUSED, valid_until__gt=services.clock.now()
    ).count()
    latest = (
        await PointsEntry.filter(member_id=member.id)
        .order_by("-id")
        .first()
        .values("reason", "kind")
    )
    record = member_reason(latest["reason"], latest["kind"]) if latest else member_reason("", None)
    return MemberCardState(
        card_id=holder.card_id,
        code=holder.code,
        bonus=member.points_balance,
        tier_name=tier_name,
        coupons=coupons,
        record_bonus=record,
        show_points=shown.show_points,
        show_tier=shown.show_tier,
        show_coupons=shown.show_coupons,
    )


async def _settle(
    services: Services, holder: WalletCardHolder, token: datetime, **values: Any
) -> bool:
    """Write the outcome and release the claim, if the claim is still this sender's."""
    values |= {"claimed_until": None, "updated_at": services.clock.now()}
    done = await WalletCardHolder.filter(id=holder.id, claimed_until=token).update(**values)
    return done == 1


async def _sent(
    services: Services,
    holder: WalletCardHolder,
    token: datetime,
    version: int,
    bonus: int,
    *,
    activated: bool,
) -> str:
    now = services.clock.now()
    values: dict[str, Any] = {
        "sent_version": version,
        "sent_bonus": bonus,
        "sent_at": now,
        "attempts": 0,
        "attempt_after": now,
        "last_error": None,
    }
    if activated:
        values["activated_at"] = now
    if not await _settle(services, holder, token, **values):
        return "lost_claim"
    return "activated" if activated else "sent"


async def _retry(
    services: Services, holder: WalletCardHolder, token: datetime, exc: BaseException
) -> str:
    attempts = holder.attempts + 1
    after = services.clock.now() + backoff(services, attempts)
    log.warning(
        "wallet card not sent, retrying later",
        extra={"holder": holder.id, "attempts": attempts, "error": _error_text(exc)},
    )
    values = {"attempts": attempts, "attempt_after": after, "last_error": _error_text(exc)}
    return "retry" if await _settle(services, holder, token, **values) else "lost_claim"


async def _park(
    services: Services, holder: WalletCardHolder, token: datetime, version: int, exc: WeChatError
) -> str:
    """A refusal that repeating cannot change: kept, and not tried again before a new change."""
    log.warning(
        "wallet card refused by WeChat, parked until the member's next change",
        extra={"holder": holder.id, "error": _error_text(exc)},
    )
    values = {
        "sent_version": version,
        "attempts": holder.attempts + 1,
        "attempt_after": services.clock.now(),
        "last_error": _error_text(exc),
    }
    return "parked" if await _settle(services, holder, token, **values) else "lost_claim"


async def _activate_again(
    services: Services, holder: WalletCardHolder, token: datetime, exc: WeChatError
) -> str:
    """WeChat has the code not activated (40078 to an update): a new entry in the wallet whose
    activation this holder missed, e.g. the card deleted and added again while an earlier
    activation was in flight. The next round activates it, with the state as it is then."""
    log.warning(
        "wallet card not activated at WeChat, activating it again",
        extra={"holder": holder.id, "error": _error_text(exc)},
    )
    values = {
        "activated_at": None,
        "attempts": holder.attempts + 1,
        "attempt_after": services.clock.now(),
        "last_error": _error_text(exc),
    }
    ok = await _settle(services, holder, token, **values)
    return "activate_again" if ok else "lost_claim"


async def _activate(
    services: Services,
    holder: WalletCardHolder,
    token: datetime,
    version: int,
    state: MemberCardState,
) -> str:
    official = services.official
    try:
        await official.activate_member_card(activate_body(state))
    except WeChatError as refused:
        if refused.transient:
            return await _retry(services, holder, token, refused)
        if refused.errcode == CARD_DELETED:
            return await _park(services, holder, token, version, refused)
        try:  # activated already (an earlier answer lost)? then an update takes
            await official.update_member_card_user(update_user_body(state))
        except WeChatError as exc:
            if exc.transient or refused.errcode == CARD_NOT_APPROVED:
                return await _retry(services, holder, token, refused)
            return await _park(services, holder, token, version, refused)
    return await _sent(services, holder, token, version, state.bonus, activated=True)


async def send_one(services: Services, holder_id: int, shown: _Shown) -> str:
    """Claim, read, send and settle one card; the outcome's name."""
    token = await claim(services, holder_id)
    if token is None:
        return "taken"
    holder = await WalletCardHolder.get(id=holder_id)
    version = holder.wanted_version  # read before the member: a later change bumps it again
    try:
        if holder.state != HolderState.HELD:  # deleted from the wallet since the claim
            await _settle(services, holder, token)
            return "gone"
        state = await member_state(services, holder, shown)
        if holder.activated_at is None:
            return await _activate(services, holder, token, version, state)
        try:
            await services.official.update_member_card_user(update_user_body(state))
        except WeChatError as exc:
            if exc.transient:
                return await _retry(services, holder, token, exc)
            if exc.errcode == CARD_NOT_APPROVED:
                return await _activate_again(services, holder, token, exc)
            return await _park(services, holder, token, version, exc)
        return await _sent(services, holder, token, version, state.bonus, activated=False)
    except asyncio.CancelledError:
        raise  # the claim lapses: the card is sent again after CLAIM_SECONDS
    except Exception as exc:  # a database hiccup, a bug: retried, never lost
        log.exception("wallet card sync failed", extra={"holder": holder_id})
        return await _retry(services, holder, token, exc)


async def send_due(
    services: Services,
    *,
    batch_size: int | None = None,
    concurrency: int | None = None,
    should_stop: Callable[[], Awaitable[bool]] | None = None,
) -> SyncSummary:
    """Send the due cards, a batch at a time, until none is due or the sender should stop."""
    config = services.config.wallet_sync
    size = batch_size or config.batch_size
    gate = asyncio.Semaphore(concurrency or config.concurrency)
    summary = SyncSummary()
    shown = await _shown()
    if shown is None:
        return summary

    async def one(holder_id: int) -> None:
        async with gate:
            outcome = await send_one(services, holder_id, shown)
        summary.outcomes[outcome] += 1
        if outcome != "taken":
            summary.claimed += 1

    while True:
        ids = await due_ids(services, size)
        if not ids:
            return summary
        await asyncio.gather(*(one(holder_id) for holder_id in ids))
        if len(ids) < size or (should_stop is not None and await should_stop()):
            return summary
