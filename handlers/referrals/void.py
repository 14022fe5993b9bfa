"""Voiding a fraudulent referral: staff cancel the rewards not yet paid (audited).

Rewards already paid are left with the members. A paid reward was earned under the rules in
force when it was paid, and taking it back through the ledger could push an innocent side
(often the invitee, a real new customer) into points debt, while a coupon may already be
spent. Staff who want points back use the audited points adjustment on the member's page;
the voided referral stays in the list, marked, with who voided it and why.

The referral row is updated first, conditional on not being void: a first purchase paying the
same referral updates that row too, so whichever commits first decides and the other finds
nothing left to do.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from handlers import audit
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, ReferralNotFound
from wxmember.core.models import Operator
from wxmember.core.models.referrals import (
    Referral,
    ReferralReward,
    ReferralStatus,
    RewardState,
)

MAX_REASON = 200


def _state(referral: Referral, cancelled: int = 0) -> dict[str, Any]:
    return {
        "status": str(referral.status),
        "referrer_id": referral.referrer_id,
        "invitee_id": referral.invitee_id,
        "void_reason": referral.void_reason,
        "rewards_cancelled": cancelled,
    }


async def void_referral(
    services: Services, actor: Operator, referral_id: int, *, reason: str
) -> Referral:
    """Void a referral and cancel its unpaid rewards (audited); 409 `referral_void` when it
    is void already."""
    now = services.clock.now()
    async with in_transaction() as conn:
        referral = await Referral.select_for_update().using_db(conn).get_or_none(id=referral_id)
        if referral is None:
            raise ReferralNotFound()
        if referral.status == ReferralStatus.VOID:
            raise Conflict("This referral is void already.", code="referral_void")
        before = _state(referral)
        referral.status = ReferralStatus.VOID
        referral.voided_at = now
        referral.voided_by_id = actor.id
        referral.void_reason = reason[:MAX_REASON]
        await referral.save(
            using_db=conn, update_fields=["status", "voided_at", "voided_by_id", "void_reason"]
        )
        cancelled = (
            await ReferralReward.filter(referral_id=referral.id, state=RewardState.PENDING)
            .using_db(conn)
            .update(state=RewardState.CANCELLED, error="referral_void")
        )
        await audit.record(
            actor,
            "referral.void",
            "referral",
            referral.id,
            before=before,
            after=_state(referral, cancelled),
            using_db=conn,
        )
    return referral
