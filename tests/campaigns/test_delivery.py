"""Running a campaign: each member recorded and contacted at most once, whatever fails, crashes
or runs twice; the holdout recorded and never contacted; pause, resume, cancel, a start time."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest

import handlers.campaigns.run as run_module
from handlers.campaigns import lifecycle
from handlers.campaigns.holdout import held_out
from handlers.campaigns.run import deliver_campaign, record_members, run_due_campaigns
from handlers.members.account import delete_account
from handlers.reminders import pacer_for
from tests.campaigns.conftest import MESSAGE, TEMPLATE, CampaignMaker, MembersMaker
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import CampaignWrongState
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member, Operator
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.coupons import Coupon, CouponTemplate
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.subscriptions import SubscribeGrant

SUBSCRIBE = "/cgi-bin/message/subscribe/send"


async def run(services: Services) -> Counter[str]:
    return await run_due_campaigns(services, pacer=pacer_for(services))


async def launched(services: Services, owner: Operator, campaign: Campaign) -> Campaign:
    return await lifecycle.launch(services, owner, campaign.id, None)


async def start(campaign: Campaign, clock: FrozenClock) -> Campaign:
    """What the scheduler does at the start time, without recording or delivering."""
    await Campaign.filter(id=campaign.id).update(
        state=CampaignState.RUNNING, started_at=clock.now()
    )
    return await Campaign.get(id=campaign.id)


async def rows(campaign: Campaign) -> list[CampaignDelivery]:
    return await CampaignDelivery.filter(campaign_id=campaign.id).order_by("id")


class TestAThousandMembers:
    async def test_each_member_once_with_failures_recorded_and_two_schedulers(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
        fake_wechat: FakeWeChat,
    ) -> None:
        members = await new_members(1000, grants=2)
        campaign = await new_campaign(
            coupon_template_id=coupon_template.id, points=50, **MESSAGE, holdout_percent=10
        )
        await launched(services, owner, campaign)
        fake_wechat.inject(SUBSCRIBE, errcode=43101, times=7)  # the member refused
        fake_wechat.inject(SUBSCRIBE, errcode=43004, times=3)  # not reachable any more
        # two schedulers at once: one records and sends, the other finds everything taken
        await asyncio.gather(run(services), run(services))
        await run(services)
        await run(services)

        found = await rows(campaign)
        assert len(found) == 1000
        assert len({row.member_id for row in found}) == 1000
        held = [row for row in found if row.holdout]
        treated = [row for row in found if not row.holdout]
        by_openid = {m.id: m.openid for m in members}
        sends = Counter(message.touser for message in fake_wechat.sent)
        assert max(sends.values()) == 1
        assert set(sends) == {by_openid[row.member_id] for row in treated if row.state == "sent"}
        states: Counter[tuple[str, str | None]] = Counter(
            (row.state, row.reason) for row in treated
        )
        assert states[("failed", "no_grant_at_wechat")] == 7
        assert states[("failed", "recipient_unavailable")] == 3
        assert states[("sent", None)] == len(treated) - 10
        # gifts: exactly one coupon and one points entry per treated member, none to the holdout
        coupons = Counter(await Coupon.all().values_list("member_id", flat=True))
        assert set(coupons) == {row.member_id for row in treated}
        assert set(coupons.values()) == {1}
        entries = Counter(
            await PointsEntry.filter(reason="campaign").values_list("member_id", flat=True)
        )
        assert set(entries) == {row.member_id for row in treated}
        assert set(entries.values()) == {1}
        assert all(row.coupon_id and row.points_entry_id for row in treated)
        campaign = await Campaign.get(id=campaign.id)
        assert campaign.state == CampaignState.FINISHED
        assert (campaign.recipients, campaign.held_out) == (len(treated), len(held))
        # a refused subscription leaves the member with none of ours
        refused = [row.member_id for row in treated if row.reason == "no_grant_at_wechat"]
        assert set(
            await SubscribeGrant.filter(member_id__in=refused).values_list("remaining", flat=True)
        ) == {0}

    async def test_a_second_launch_does_nothing(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
    ) -> None:
        await new_members(20)
        campaign = await launched(services, owner, await new_campaign(points=10))
        await run(services)
        before = [(row.id, row.state) for row in await rows(campaign)]
        with pytest.raises(CampaignWrongState):
            await lifecycle.launch(services, owner, campaign.id, None)
        await run(services)
        assert [(row.id, row.state) for row in await rows(campaign)] == before
        counts = Counter(
            await PointsEntry.filter(reason="campaign").values_list("member_id", flat=True)
        )
        assert len(counts) == len(before) - (await Campaign.get(id=campaign.id)).held_out
        assert set(counts.values()) == {1}


class TestHoldout:
    async def test_stable_about_the_share_and_never_contacted(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
        fake_wechat: FakeWeChat,
    ) -> None:
        members = await new_members(1000)
        campaign = await new_campaign(
            coupon_template_id=coupon_template.id, **MESSAGE, holdout_percent=20
        )
        await launched(services, owner, campaign)
        await run(services)
        found = await rows(campaign)
        held = {row.member_id for row in found if row.holdout}
        # stable: the same draw for the same campaign and member, every time
        assert held == {m.id for m in members if held_out(campaign.salt, m.id, 20)}
        # about the share: 20 % of 1,000 is 200 with a standard deviation of about 13
        assert 150 <= len(held) <= 250
        # never contacted, never given anything
        openids = {m.openid for m in members if m.id in held}
        assert not openids & {message.touser for message in fake_wechat.sent}
        assert not await Coupon.filter(member_id__in=list(held)).exists()
        assert {(row.state, row.reason) for row in found if row.holdout} == {("skipped", "holdout")}
        # another campaign draws its own holdout
        other = await new_campaign(points=1, holdout_percent=20)
        assert held != {m.id for m in members if held_out(other.salt, m.id, 20)}

    def test_the_draw_is_a_pure_function_of_salt_member_and_share(self) -> None:
        assert held_out("abc", 7, 10) == held_out("abc", 7, 10)
        assert not any(held_out("abc", n, 0) for n in range(1000))
        assert all(held_out("abc", n, 100) for n in range(1000))


class TestCrashes:
    async def test_a_run_killed_mid_send_leaves_no_member_contacted_twice(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_members(30, grants=3)
        campaign = await launched(
            services,
            owner,
            await new_campaign(coupon_template_id=coupon_template.id, **MESSAGE, holdout_percent=0),
        )
        fake_wechat.inject(SUBSCRIBE, delay=0.3)
        task = asyncio.create_task(run(services))

        async def first_send_received() -> None:
            while fake_wechat.calls[SUBSCRIBE] < 1:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(first_send_received(), 10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # WeChat finishes the message it received
        clock.advance(seconds=services.config.reminders.sending_timeout_seconds + 1)
        await run(services)
        await run(services)
        sends = Counter(message.touser for message in fake_wechat.sent)
        assert max(sends.values()) == 1
        found = await rows(campaign)
        # the one left sending when the run died is settled, never sent again
        assert Counter(row.state for row in found) == {"sent": 29, "failed": 1}
        assert [row.reason for row in found if row.state == "failed"] == ["unknown_outcome"]
        assert set(Counter(await Coupon.all().values_list("member_id", flat=True)).values()) == {1}

    async def test_recording_resumes_after_the_last_recorded_range(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await new_members(120, grants=0)
        campaign = await launched(services, owner, await new_campaign(points=5))
        campaign = await start(campaign, clock)
        monkeypatch.setattr(run_module, "RANGE_SIZE", 50)
        stops = iter([False, True])

        async def stop_after_two_ranges() -> bool:
            return next(stops, True)

        # the process stops after two ranges: a later run goes on from the third
        assert not await record_members(services, campaign, stop_after_two_ranges)
        first = await CampaignDelivery.filter(campaign_id=campaign.id).count()
        campaign = await Campaign.get(id=campaign.id)
        assert campaign.frozen_at is None and 0 < first < 120
        assert await record_members(services, campaign)
        found = await rows(campaign)
        assert len(found) == len({row.member_id for row in found}) == 120
        campaign = await Campaign.get(id=campaign.id)
        assert campaign.recipients + campaign.held_out == 120


class TestOperatorsControl:
    async def test_pause_stops_resume_goes_on_cancel_skips_the_rest(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
    ) -> None:
        await new_members(40, grants=0)
        campaign = await launched(services, owner, await new_campaign(points=5, holdout_percent=0))
        campaign = await start(campaign, clock)
        assert await record_members(services, campaign)
        pacer = pacer_for(services)
        delivered = 0

        async def pause_after_ten() -> bool:
            nonlocal delivered
            delivered += 1
            if delivered == 11:
                await lifecycle.pause(services, owner, campaign.id)
            return False

        outcomes = await deliver_campaign(services, campaign, pacer, pause_after_ten)
        assert outcomes == {"sent": 10}
        await run(services)  # a paused campaign is not run
        assert await CampaignDelivery.filter(campaign_id=campaign.id, state="sent").count() == 10
        await lifecycle.resume(services, owner, campaign.id)
        campaign = await Campaign.get(id=campaign.id)
        assert campaign.state == CampaignState.RUNNING
        outcomes = await deliver_campaign(services, campaign, pacer, None)
        assert outcomes == {"sent": 30}

    async def test_cancel_settles_the_members_not_reached(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
    ) -> None:
        await new_members(10, grants=0)
        campaign = await launched(services, owner, await new_campaign(points=5, holdout_percent=0))
        assert await record_members(services, await start(campaign, clock))
        await lifecycle.cancel(services, owner, campaign.id)
        await run(services)
        found = await rows(campaign)
        assert {(row.state, row.reason) for row in found} == {("skipped", "cancelled")}
        assert not await PointsEntry.filter(reason="campaign").exists()

    async def test_a_start_time_waits_and_the_members_are_those_of_the_start(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
    ) -> None:
        await new_members(5, grants=0)
        draft = await new_campaign(points=5, holdout_percent=0)
        start = clock.now() + timedelta(hours=2)
        campaign = await lifecycle.launch(services, owner, draft.id, start)
        assert campaign.state == CampaignState.SCHEDULED
        await run(services)
        assert not await CampaignDelivery.filter(campaign_id=campaign.id).exists()
        await new_members(3, grants=0)  # opened their cards before the start
        clock.advance(hours=2)
        await run(services)
        assert await CampaignDelivery.filter(campaign_id=campaign.id, state="sent").count() == 8
        assert (await Campaign.get(id=campaign.id)).state == CampaignState.FINISHED


class TestMessages:
    async def test_the_message_names_the_coupon_just_given(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
        fake_wechat: FakeWeChat,
    ) -> None:
        [member] = await new_members(1)
        campaign = await new_campaign(
            coupon_template_id=coupon_template.id, **MESSAGE, holdout_percent=0
        )
        await launched(services, owner, campaign)
        await run(services)
        [message] = fake_wechat.sent
        assert message.touser == member.openid
        assert message.template_id == TEMPLATE
        assert message.data == {
            "name1": "张三",
            "thing2": "回归礼券",
            "date3": "2026年6月15日",
        }  # day 30, the claim day being day 1

    async def test_a_sold_out_coupon_fails_the_member_and_sends_nothing(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
        fake_wechat: FakeWeChat,
    ) -> None:
        await CouponTemplate.filter(id=coupon_template.id).update(total_stock=2, remaining=2)
        await new_members(5)
        campaign = await new_campaign(
            coupon_template_id=coupon_template.id, **MESSAGE, holdout_percent=0
        )
        await launched(services, owner, campaign)
        await run(services)
        states = Counter((row.state, row.reason) for row in await rows(campaign))
        assert states == {("sent", None): 2, ("failed", "gift_refused:sold_out"): 3}
        assert len(fake_wechat.sent) == 2

    async def test_a_deleted_member_is_skipped(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
    ) -> None:
        first, second = await new_members(2, grants=0)
        campaign = await launched(services, owner, await new_campaign(points=5, holdout_percent=0))
        assert await record_members(services, await start(campaign, clock))
        await Member.filter(id=second.id).update(deleted_at=clock.now())
        await run(services)
        states = {row.member_id: (row.state, row.reason) for row in await rows(campaign)}
        assert states == {first.id: ("sent", None), second.id: ("skipped", "member_deleted")}


class TestAccountDeletion:
    async def test_the_members_messages_lose_their_text_and_waiting_ones_are_skipped(
        self,
        services: Services,
        clock: FrozenClock,
        owner: Operator,
        new_members: MembersMaker,
        new_campaign: CampaignMaker,
        coupon_template: CouponTemplate,
    ) -> None:
        sent, waiting = await new_members(2)
        campaign = await launched(
            services,
            owner,
            await new_campaign(coupon_template_id=coupon_template.id, **MESSAGE, holdout_percent=0),
        )
        await run(services)
        await CampaignDelivery.filter(campaign_id=campaign.id, member_id=waiting.id).update(
            state="claimed", payload={"name1": "张三"}
        )
        for member in (sent, waiting):
            await delete_account(services, await Member.get(id=member.id))
        found = {row.member_id: row for row in await rows(campaign)}
        assert {row.payload.get("name1") for row in found.values()} == {None}
        assert (found[sent.id].state, found[waiting.id].state) == ("sent", "skipped")
        assert found[waiting.id].reason == "member_deleted"
