"""The demo's referrals (邀请有礼): the settings, and a few friends invited by card holders.

The owner switches referrals on (through the audited settings, as in the console): 200 points
to the referrer and 100 to the invitee, paid after the invitee's first purchase, at most 5
rewarded referrals per referrer a month. Then the two card holders who joined last invite
friends: three for the first, one for the second; one friend of the first buys at the till,
which pays both sides. So the leaderboard has a shape, and the console shows referrals both
waiting for a first purchase and rewarded. Runs once: a second start finds the settings saved.
"""

from __future__ import annotations

from datetime import date

from handlers import referrals
from handlers.members.cards import open_card
from handlers.members.sessions import member_for_openid
from handlers.pos.purchases import record_purchase
from wxmember.core.context import Services
from wxmember.core.models import Member, Operator
from wxmember.core.models.referrals import RewardMoment
from wxmember.demo.seeds import demo_owner

SETTINGS = referrals.ReferralSettingsBody(
    enabled=True,
    reward_on=RewardMoment.FIRST_PURCHASE,
    referrer_points=200,
    invitee_points=100,
    monthly_limit=5,
)
# (name, birthday, which referrer: 0 the newest card holder, 1 the one before)
FRIENDS = (
    ("林小雨", "1996-04-12", 0),
    ("周子航", "1993-09-03", 0),
    ("陈一诺", "1999-01-27", 0),
    ("黄思远", "1990-11-08", 1),
)


async def seed(services: Services) -> None:
    """Switch referrals on and record the demo's invitations (once)."""
    if (await referrals.current_settings()).version > 0:
        return
    await referrals.save_settings(services, await demo_owner(), SETTINGS)
    holders = await Member.filter(card_no__isnull=False, deleted_at=None).order_by("-id").limit(2)
    if len(holders) < 2:
        return
    codes = [await referrals.code_for(services, holder) for holder in holders]
    invited: list[Member] = []
    for number, (name, birthday, which) in enumerate(FRIENDS, start=1):
        member, _ = await member_for_openid(f"o-demo-referred-{number}")
        invited.append(
            await open_card(
                services,
                member,
                name=name,
                birthday=date.fromisoformat(birthday),
                referral_code=codes[which],
            )
        )
    cashier = await Operator.get_or_none(username="cashier")
    if cashier is not None:
        await record_purchase(services, cashier, invited[0].id, "DEMO-REFERRAL-0001", 3800)
