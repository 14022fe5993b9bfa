"""The tier birthday gift: paid on the member's local birthday, once per member and year."""

from __future__ import annotations

import asyncio
from datetime import date

from handlers import points
from handlers.benefits import pay_birthday_gifts
from handlers.benefits.birthday import KIND
from handlers.benefits.grants import claim, pay, payment_key
from jobs.base import JobContext
from jobs.benefits import pay_tier_birthday_gifts
from tests.benefits.conftest import BIRTHDAY_POINTS, MemberIn
from tests.support.localtime import local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier
from wxmember.core.models.benefits import BenefitGrant, BenefitKind, GrantState
from wxmember.core.models.coupons import Coupon, CouponTemplate
from wxmember.core.models.points import PointsEntry


async def never_stop() -> bool:
    return False


async def gifts_of(member: Member) -> tuple[int, int]:
    """(points entries, coupons) the tier birthday gift gave the member."""
    entries = await PointsEntry.filter(member_id=member.id, reason="tier_birthday_gift").count()
    coupons = await Coupon.filter(member_id=member.id, reason="tier_birthday_gift").count()
    return entries, coupons


class TestPayOnTheBirthday:
    async def test_a_member_of_the_tier_gets_points_and_coupon_on_their_birthday(
        self, services: Services, gold: Tier, gift_template: CouponTemplate, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        report = await pay_birthday_gifts(services)
        assert report.as_dict() == {
            "kind": "birthday_gift",
            "occasion": "2026",
            "status": "finished",
            "claimed": 1,
            "outcomes": {"granted": 1},
        }
        await member.refresh_from_db()
        assert member.points_balance == BIRTHDAY_POINTS
        coupon = await Coupon.get(member_id=member.id)
        assert coupon.template_id == gift_template.id
        grant = await BenefitGrant.get(member_id=member.id)
        assert (grant.kind, grant.occasion, grant.state) == ("birthday_gift", "2026", "granted")
        assert grant.tier_name == gold.name
        assert {"coupon_id": coupon.id, "template_id": gift_template.id} in grant.paid

    async def test_two_schedulers_at_once_and_a_rerun_pay_once(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        members = [await member_in(gold) for _ in range(3)]
        context = JobContext(services, never_stop)
        await asyncio.gather(pay_tier_birthday_gifts(context), pay_tier_birthday_gifts(context))
        rerun = await pay_birthday_gifts(services)
        assert rerun.claimed == 0 and not rerun.outcomes
        for member in members:
            assert await gifts_of(member) == (1, 1)
            await member.refresh_from_db()
            assert member.points_balance == BIRTHDAY_POINTS
        assert await BenefitGrant.filter(state=GrantState.GRANTED).count() == 3

    async def test_two_workers_paying_the_same_claimed_row_give_each_gift_once(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await claim(services, KIND, "2026", date(2026, 5, 17), [member], {gold.id: gold})
        first = await BenefitGrant.get(member_id=member.id)
        second = await BenefitGrant.get(member_id=member.id)
        states = await asyncio.gather(pay(services, first), pay(services, second))
        assert states == [GrantState.GRANTED, GrantState.GRANTED]
        assert await gifts_of(member) == (1, 1)

    async def test_a_batch_at_a_time_pays_everyone_of_the_day(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        members = [await member_in(gold) for _ in range(5)]
        report = await pay_birthday_gifts(services, batch_size=2)
        assert report.claimed == 5 and report.outcomes == {"granted": 5}
        for member in members:
            assert await gifts_of(member) == (1, 1)

    async def test_a_row_left_claimed_by_a_crash_is_paid_once_by_the_next_run(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await pay_birthday_gifts(services)
        # As if the process died after the claim and the points but before the coupon.
        await Coupon.filter(member_id=member.id).delete()
        await BenefitGrant.filter(member_id=member.id).update(state=GrantState.CLAIMED)
        report = await pay_birthday_gifts(services)
        assert report.outcomes == {"granted": 1}
        assert await gifts_of(member) == (1, 1)


class TestLocalDay:
    async def test_the_birthday_is_the_brands_local_day_not_the_utc_day(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        clock.set(local(2026, 5, 16, 23, 50))  # 15:50 UTC on the 16th
        assert (await pay_birthday_gifts(services)).claimed == 0
        clock.set(local(2026, 5, 17, 0, 10))  # still the 16th in UTC
        assert (await pay_birthday_gifts(services)).claimed == 1
        assert await gifts_of(member) == (1, 1)

    async def test_new_years_day_is_paid_for_the_local_year(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold, birthday=date(1990, 1, 1))
        clock.set(local(2027, 1, 1, 0, 30))  # 31 December 2026 in UTC
        report = await pay_birthday_gifts(services)
        assert (report.occasion, report.claimed) == ("2027", 1)
        assert await BenefitGrant.filter(member_id=member.id, occasion="2027").exists()

    async def test_born_on_29_february_is_paid_on_28_february_of_a_common_year(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold, birthday=date(1992, 2, 29))
        clock.set(local(2027, 2, 28, 9, 0))
        await pay_birthday_gifts(services)
        clock.set(local(2027, 3, 1, 9, 0))
        await pay_birthday_gifts(services)
        assert await gifts_of(member) == (1, 1)

    async def test_a_new_year_pays_again(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await pay_birthday_gifts(services)
        clock.set(local(2027, 5, 17, 9, 0))
        await pay_birthday_gifts(services)
        assert await gifts_of(member) == (2, 2)


class TestWhoGetsNone:
    async def test_members_without_a_birthday_or_born_another_day_get_none(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        nobody = await member_in(gold, birthday=None)
        tomorrow = await member_in(gold, birthday=date(1990, 5, 18))
        report = await pay_birthday_gifts(services)
        assert report.claimed == 0
        assert await gifts_of(nobody) == (0, 0)
        assert await gifts_of(tomorrow) == (0, 0)

    async def test_a_tier_without_the_benefit_gives_none(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        entry = await member_in()
        await pay_birthday_gifts(services)
        assert await gifts_of(entry) == (0, 0)
        assert not await BenefitGrant.exists()

    async def test_a_deleted_member_gets_none(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await Member.filter(id=member.id).update(deleted_at=clock.now())
        assert (await pay_birthday_gifts(services)).claimed == 0

    async def test_reaching_the_tier_after_the_birthday_gives_nothing_this_year(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(birthday=date(1990, 5, 17))
        await pay_birthday_gifts(services)
        clock.set(local(2026, 5, 18, 9, 0))
        await Member.filter(id=member.id).update(tier_id=gold.id)
        await pay_birthday_gifts(services)
        assert await gifts_of(member) == (0, 0)


class TestSeparateFromReminderGifts:
    async def test_a_reminder_rules_birthday_gift_does_not_stand_in_for_the_tiers(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await points.earn(
            services,
            member.id,
            50,
            reason="birthday_gift",
            idempotency_key=f"birthday-gift:{member.id}:2026",
        )
        await pay_birthday_gifts(services)
        assert await gifts_of(member) == (1, 1)
        await member.refresh_from_db()
        assert member.points_balance == 50 + BIRTHDAY_POINTS
        key = payment_key(BenefitKind.BIRTHDAY_GIFT, member.id, "2026", 0)
        assert await PointsEntry.filter(idempotency_key=key).exists()
