"""The tier monthly coupons: paid in the first run of each local month, once per member."""

from __future__ import annotations

import asyncio

from handlers.benefits import pay_monthly_coupons
from jobs.base import JobContext
from jobs.benefits import pay_tier_monthly_coupons
from tests.benefits.conftest import MemberIn
from tests.support.localtime import local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier
from wxmember.core.models.benefits import BenefitGrant, BenefitRun, GrantState
from wxmember.core.models.coupons import Coupon, CouponTemplate


async def never_stop() -> bool:
    return False


async def monthly_coupons_of(member: Member) -> int:
    return await Coupon.filter(member_id=member.id, reason="tier_monthly_coupons").count()


class TestPayTheMonth:
    async def test_every_member_of_the_tier_gets_the_pack_a_batch_at_a_time(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        members = [await member_in(gold) for _ in range(5)]
        entry = await member_in()
        report = await pay_monthly_coupons(services, batch_size=2)
        assert report.as_dict() == {
            "kind": "monthly_coupons",
            "occasion": "2026-05",
            "status": "finished",
            "claimed": 5,
            "outcomes": {"granted": 5},
        }
        for member in members:
            assert await monthly_coupons_of(member) == 2
        assert await monthly_coupons_of(entry) == 0
        run = await BenefitRun.get(occasion="2026-05")
        assert (run.status, run.cursor) == ("finished", members[-1].id)

    async def test_two_schedulers_at_once_and_a_rerun_pay_once(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        members = [await member_in(gold) for _ in range(4)]
        context = JobContext(services, never_stop)
        await asyncio.gather(pay_tier_monthly_coupons(context), pay_tier_monthly_coupons(context))
        rerun = await pay_monthly_coupons(services)
        assert rerun.status == "already_finished" and rerun.claimed == 0
        for member in members:
            assert await monthly_coupons_of(member) == 2
        assert await BenefitGrant.filter(state=GrantState.GRANTED).count() == 4
        assert await BenefitRun.all().count() == 1

    async def test_a_rerun_of_a_finished_month_pays_nobody_who_joined_since(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        await member_in(gold)
        await pay_monthly_coupons(services)
        late = await member_in(gold)
        assert (await pay_monthly_coupons(services)).status == "already_finished"
        assert await monthly_coupons_of(late) == 0

    async def test_a_new_month_pays_again(
        self, services: Services, clock: FrozenClock, gold: Tier, member_in: MemberIn
    ) -> None:
        member = await member_in(gold)
        await pay_monthly_coupons(services)
        clock.set(local(2026, 6, 1, 0, 35))  # 31 May 16:35 in UTC: June already, locally
        report = await pay_monthly_coupons(services)
        assert (report.occasion, report.claimed) == ("2026-06", 1)
        assert await monthly_coupons_of(member) == 4


class TestResume:
    async def test_a_stopped_run_resumes_at_its_cursor(
        self, services: Services, gold: Tier, member_in: MemberIn
    ) -> None:
        members = [await member_in(gold) for _ in range(5)]
        asked = 0

        async def stop_after_first_batch() -> bool:
            nonlocal asked
            asked += 1
            return asked > 1

        first = await pay_monthly_coupons(
            services, batch_size=2, should_stop=stop_after_first_batch
        )
        assert (first.status, first.claimed) == ("stopped", 2)
        run = await BenefitRun.get(occasion="2026-05")
        assert (run.status, run.cursor) == ("running", members[1].id)
        second = await pay_monthly_coupons(services, batch_size=2)
        assert (second.status, second.claimed) == ("finished", 3)
        for member in members:
            assert await monthly_coupons_of(member) == 2

    async def test_no_tier_with_the_benefit_starts_no_run(
        self, services: Services, member_in: MemberIn
    ) -> None:
        await member_in()
        report = await pay_monthly_coupons(services)
        assert report.status == "nothing_to_pay"
        assert not await BenefitRun.exists()


class TestTemplateRefused:
    async def test_a_stopped_template_is_recorded_and_not_retried(
        self,
        services: Services,
        gold: Tier,
        monthly_template: CouponTemplate,
        member_in: MemberIn,
    ) -> None:
        member = await member_in(gold)
        await CouponTemplate.filter(id=monthly_template.id).update(stopped=True)
        report = await pay_monthly_coupons(services)
        assert report.outcomes == {"failed": 1}
        grant = await BenefitGrant.get(member_id=member.id)
        assert grant.state == "failed"
        assert [f["code"] for f in grant.failures] == ["template_stopped", "template_stopped"]
        await CouponTemplate.filter(id=monthly_template.id).update(stopped=False)
        await pay_monthly_coupons(services)
        assert await monthly_coupons_of(member) == 0
        assert (await BenefitGrant.get(member_id=member.id)).state == "failed"

    async def test_a_sold_out_template_pays_what_stock_there_is(
        self,
        services: Services,
        gold: Tier,
        monthly_template: CouponTemplate,
        member_in: MemberIn,
    ) -> None:
        member = await member_in(gold)
        await CouponTemplate.filter(id=monthly_template.id).update(total_stock=1, remaining=1)
        await pay_monthly_coupons(services)
        grant = await BenefitGrant.get(member_id=member.id)
        assert grant.state == "failed"
        assert [f["code"] for f in grant.failures] == ["sold_out"]
        assert len(grant.paid) == 1
        assert await monthly_coupons_of(member) == 1

    async def test_an_expired_template_is_recorded(
        self,
        services: Services,
        clock: FrozenClock,
        gold: Tier,
        monthly_template: CouponTemplate,
        member_in: MemberIn,
    ) -> None:
        member = await member_in(gold)
        await CouponTemplate.filter(id=monthly_template.id).update(
            valid_days=None, valid_from=local(2026, 1, 1), valid_until=local(2026, 5, 1)
        )
        await pay_monthly_coupons(services)
        grant = await BenefitGrant.get(member_id=member.id)
        assert {f["code"] for f in grant.failures} == {"template_expired"}
