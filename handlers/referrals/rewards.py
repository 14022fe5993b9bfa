"""Paying a referral's rewards: points through the ledger, coupons through issuing, once each.

A reward row is claimed by a conditional update from `pending` before anything is given, and
what is given carries the idempotency key `referral:<id>:<side>:<kind>`, so a reward is paid at
most once whatever runs twice. The caller holds the locks of the members paid (`LockedMember`,
the invitee first, then the referrer: the order every referral flow takes them in), and the
payment joins its transaction. A coupon that cannot be given (sold out, stopped, expired) marks
the reward `failed` with the refusal's code instead of undoing the card opening or purchase.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers import points
from handlers.coupons.issuing import issue_coupon
from wxmember.core.context import Services
from wxmember.core.errors import DomainError, MemberNotFound
from wxmember.core.kernel import LockedMember, lock_member, savepoint
from wxmember.core.models.referrals import (
    Referral,
    ReferralReward,
    ReferralStatus,
    RewardState,
)
from wxmember.core.prepared import RowsBy

log = logging.getLogger(__name__)

REASON = "referral"
SIDES = ("invitee", "referrer")


def reward_key(referral_id: int, side: str, kind: str) -> str:
    """The idempotency key of one reward in the ledger or on the coupon."""
    return f"referral:{referral_id}:{side}:{kind}"


async def create_rewards(
    conn: BaseDBAsyncClient,
    referral: Referral,
    offered: dict[str, tuple[int, int | None]],
    now: datetime,
) -> None:
    """One pending reward row per side and kind offered (`offered[side] = points, template`)."""
    rows = []
    for side, (amount, template_id) in offered.items():
        member_id = referral.invitee_id if side == "invitee" else referral.referrer_id
        common = {"referral_id": referral.id, "member_id": member_id, "side": side}
        if amount > 0:
            rows.append(
                ReferralReward(
                    **common,
                    kind="points",
                    points=amount,
                    state=RewardState.PENDING,
                    created_at=now,
                )
            )
        if template_id is not None:
            rows.append(
                ReferralReward(
                    **common,
                    kind="coupon",
                    coupon_template_id=template_id,
                    state=RewardState.PENDING,
                    created_at=now,
                )
            )
    if rows:
        await ReferralReward.bulk_create(rows, using_db=conn)


async def pay_rewards(
    services: Services, referral: Referral, accounts: dict[int, LockedMember]
) -> int:
    """Pay every pending reward of the referral to the members locked in `accounts`; the
    number paid. A reward of a member not in `accounts` (gone since) is cancelled."""
    conn = next(iter(accounts.values())).conn
    pending = (
        await ReferralReward.filter(referral_id=referral.id, state=RewardState.PENDING)
        .using_db(conn)
        .order_by("id")
    )
    paid = 0
    for reward in pending:
        account = accounts.get(reward.member_id)
        if account is None:
            await _settle(conn, reward, RewardState.CANCELLED, services.clock.now(), "member_gone")
            continue
        paid += await _pay(services, reward, account)
    return paid


async def _settle(
    conn: BaseDBAsyncClient,
    reward: ReferralReward,
    state: RewardState,
    now: datetime,
    error: str | None = None,
    **values: object,
) -> bool:
    updated = (
        await ReferralReward.filter(id=reward.id, state=RewardState.PENDING)
        .using_db(conn)
        .update(
            state=state, error=error, paid_at=now if state == RewardState.PAID else None, **values
        )
    )
    return updated == 1


async def _pay(services: Services, reward: ReferralReward, account: LockedMember) -> int:
    conn = account.conn
    now = services.clock.now()
    key = reward_key(reward.referral_id, reward.side, reward.kind)
    if reward.kind == "points":
        if not await _settle(conn, reward, RewardState.PAID, now):
            return 0
        entry = await points.earn(
            services,
            account,
            reward.points or 0,
            reason=REASON,
            idempotency_key=key,
            reference=f"referral:{reward.referral_id}",
        )
        await ReferralReward.filter(id=reward.id).using_db(conn).update(points_entry_id=entry.id)
        return 1
    template_id = reward.coupon_template_id or 0
    try:
        async with savepoint(conn):
            coupon = await issue_coupon(
                services,
                account.id,
                template_id,
                reason=REASON,
                idempotency_key=key,
                using_db=conn,
            )
    except DomainError as exc:
        log.warning("referral coupon refused", extra={"reward": reward.id, "code": exc.code})
        await _settle(conn, reward, RewardState.FAILED, now, exc.code[:48])
        return 0
    return int(await _settle(conn, reward, RewardState.PAID, now, coupon_id=coupon.id))


_PENDING_OF_INVITEE = RowsBy(Referral, "invitee_id", "status", limit=1)


async def reward_first_purchase(services: Services, account: LockedMember) -> int:
    """At a purchase, in its transaction (the buyer locked): pay the rewards of the buyer's
    referral that wait for their first purchase; the number of rewards paid (0 on any later
    purchase: the referral has left `pending`)."""
    conn = account.conn
    referral = await _PENDING_OF_INVITEE.first(conn, account.id, ReferralStatus.PENDING)
    if referral is None:
        return 0
    moved = (
        await Referral.filter(id=referral.id, status=ReferralStatus.PENDING)
        .using_db(conn)
        .update(status=ReferralStatus.REWARDED, rewarded_at=services.clock.now())
    )
    if not moved:
        return 0  # voided meanwhile
    accounts = {account.id: account}
    try:
        accounts[referral.referrer_id] = await lock_member(conn, referral.referrer_id)
    except MemberNotFound:
        pass  # the referrer deleted their account: their rewards are cancelled
    paid = await pay_rewards(services, referral, accounts)
    log.info("referral rewarded at first purchase", extra={"referral": referral.id, "paid": paid})
    return paid
