"""Recording a referral when the invitee opens their card with a share code.

Called from card opening, inside its transaction, after the card was written: the invitee's
row is locked and had no card until this transaction (the card opens once), so the referral is
recorded at most once per invitee, backed by the unique `invitee_id`. The referrer's row is
locked next (always invitee first, then referrer), which serialises the monthly count of one
referrer's rewarded referrals. Refusals undo the whole card opening, so the mini-program can
open the card again without the code:

- 400 `invalid_referral_code`: no card holder has this code;
- 409 `self_referral`: the code is the invitee's own, or its owner shares the invitee's
  unionid or phone number.

With referrals switched off a code is ignored and the card opens.
"""

from __future__ import annotations

import logging

from handlers.referrals.codes import owner_of
from handlers.referrals.rewards import SIDES, create_rewards, pay_rewards
from handlers.referrals.settings import current_settings
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, MemberNotFound, ValidationFailed
from wxmember.core.kernel import LockedMember, insert_once, lock_member
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.referrals import Referral, ReferralStatus, RewardMoment

log = logging.getLogger(__name__)


def _invalid_code() -> ValidationFailed:
    return ValidationFailed(
        "referral_code: no member has this share code.",
        code="invalid_referral_code",
        details={"field": "referral_code"},
    )


def _self_referral() -> Conflict:
    return Conflict("A member cannot invite themself.", code="self_referral")


def same_person(invitee: Member, referrer: Member) -> bool:
    """Whether two member rows are the same person: same WeChat unionid or phone number."""
    if invitee.id == referrer.id:
        return True
    if invitee.unionid and invitee.unionid == referrer.unionid:
        return True
    return bool(invitee.phone_hash) and invitee.phone_hash == referrer.phone_hash


async def record_referral(
    services: Services, account: LockedMember, referral_code: str | None
) -> Referral | None:
    """Record the invitee's referral at card opening and pay what is due at opening; None
    without a code or with referrals off."""
    if referral_code is None:
        return None
    conn = account.conn
    settings = await current_settings(conn)
    if not settings.enabled:
        return None
    referrer_id = await owner_of(referral_code, conn)
    if referrer_id is None:
        raise _invalid_code()
    if referrer_id == account.id:
        raise _self_referral()
    # the invitee as this transaction just wrote them (the phone comes with the card)
    invitee = await Member.get(id=account.id, using_db=conn)
    try:
        referrer = await lock_member(conn, referrer_id)
    except MemberNotFound:
        raise _invalid_code() from None
    if referrer.row.card_no is None:
        raise _invalid_code()
    if same_person(invitee, referrer.row):
        raise _self_referral()

    now = services.clock.now()
    month = local_today(services).replace(day=1)
    counted = Referral.filter(referrer_id=referrer_id, month=month, referrer_rewarded=True)
    referrer_rewarded = await counted.using_db(conn).count() < settings.monthly_limit
    moment = RewardMoment(settings.reward_on)
    at_opening = moment == RewardMoment.CARD_OPENING
    referral = await insert_once(
        Referral,
        conn,
        referrer_id=referrer_id,
        invitee_id=invitee.id,
        status=ReferralStatus.REWARDED if at_opening else ReferralStatus.PENDING,
        reward_on=moment,
        referrer_rewarded=referrer_rewarded,
        month=month,
        created_at=now,
        rewarded_at=now if at_opening else None,
    )
    if referral is None:
        return None  # recorded already: the card opens once, so not reached in practice
    sides = [side for side in SIDES if side == "invitee" or referrer_rewarded]
    await create_rewards(conn, referral, {side: settings.rewards(side) for side in sides}, now)
    if at_opening:
        await pay_rewards(services, referral, {invitee.id: account, referrer_id: referrer})
    log.info(
        "referral recorded",
        extra={"referral": referral.id, "referrer_rewarded": referrer_rewarded},
    )
    return referral
