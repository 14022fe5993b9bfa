"""Delivery rules: a retried push is answered once, and a slow answer goes out later, once.

The slow handler is real: an unlinked follower's keyword makes the bot ask WeChat for the
follower's unionid, and the fake WeChat is told to take its time answering.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from handlers import points
from handlers.followers.links import follower_alias
from tests.bot.conftest import BOUND_OPENID, UNBOUND_OPENID
from tests.support.settings import REDIS_URL
from tests.support.wechat_push import OfficialPusher, text_xml
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat, SentMessage
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.redis_lane import Lane, lane_for

USER_INFO = "/cgi-bin/user/info"

requires_real_redis = pytest.mark.skipif(
    not REDIS_URL, reason="workers share only a real Redis (WXMEMBER_TEST_REDIS_URL)"
)


async def sent_messages(fake: FakeWeChat, count: int) -> list[SentMessage]:
    """The customer-service messages sent, once `count` messages have arrived (or 5 s passed)."""
    for _ in range(100):
        if len(fake.sent) >= count:
            break
        await asyncio.sleep(0.05)
    return [message for message in fake.sent if message.kind == "custom"]


class TestRetries:
    async def test_concurrent_retry_gets_the_same_reply_and_runs_once(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject(USER_INFO, delay=0.5)
        xml = text_xml(UNBOUND_OPENID, "积分", msg_id=9_100_000_001)
        first, retry = await asyncio.gather(pusher.send(xml), pusher.send(xml))
        assert first.status == retry.status == 200
        assert first.content == retry.content
        assert "您还没有绑定会员卡" in first.content
        assert fake_wechat.calls[USER_INFO] == 1
        assert await Follower.filter(openid=UNBOUND_OPENID).count() == 1

    async def test_later_retry_gets_the_stored_reply(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        xml = text_xml(UNBOUND_OPENID, "签到", msg_id=9_100_000_002)
        first = await pusher.send(xml)
        again = await pusher.send(xml)
        assert again.content == first.content
        assert again.message == first.message
        assert fake_wechat.calls[USER_INFO] == 1

    async def test_events_are_deduplicated_by_sender_time_and_key(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        from tests.support.wechat_push import push_xml

        click = push_xml(UNBOUND_OPENID, "event", 1_800_000_000, Event="CLICK", EventKey="TIER")
        other = push_xml(UNBOUND_OPENID, "event", 1_800_000_000, Event="CLICK", EventKey="CARD")
        first = await pusher.send(click)
        assert (await pusher.send(click)).content == first.content
        await pusher.send(other)
        assert fake_wechat.calls[USER_INFO] == 1  # asked once, then remembered for 10 minutes
        tokens = {first.content, (await pusher.send(other)).content}
        assert len(tokens) == 2

    async def test_different_messages_are_not_confused(self, pusher: OfficialPusher) -> None:
        one = await pusher.send(text_xml(UNBOUND_OPENID, "帮助", msg_id=9_100_000_003))
        two = await pusher.send(text_xml(UNBOUND_OPENID, "积分", msg_id=9_100_000_004))
        assert one.content != two.content


class TestDedupLifetime:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"retention": {"push_dedup_seconds": 45}}

    async def test_a_push_is_remembered_for_the_configured_seconds(
        self, pusher: OfficialPusher, services: Services
    ) -> None:
        await pusher.send(text_xml(UNBOUND_OPENID, "签到", msg_id=9_150_000_001))
        key = "wxmember:bot:push:official:m:9150000001"
        assert 40 <= await services.redis.ttl(key) <= 45


class TestDeadline:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"reply_deadline_seconds": 0.2}}

    async def test_late_answer_goes_out_once_as_a_customer_service_message(
        self, client: TestClient, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject(USER_INFO, delay=0.6)
        xml = text_xml(UNBOUND_OPENID, "积分", msg_id=9_200_000_001)
        reply = await pusher.send(xml)
        assert reply.is_success
        retry = await pusher.send(xml)  # WeChat's retry while the work is still running
        assert retry.is_success
        sent = await sent_messages(fake_wechat, 1)
        assert len(sent) == 1
        assert sent[0].touser == UNBOUND_OPENID
        assert sent[0].extra["msgtype"] == "text"
        assert "您还没有绑定会员卡" in sent[0].data["content"]
        await client.close()  # lets every background task finish
        assert len([message for message in fake_wechat.sent if message.kind == "custom"]) == 1
        assert fake_wechat.calls[USER_INFO] == 1

    async def test_fast_answers_are_still_passive_replies(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        reply = await pusher.text(UNBOUND_OPENID, "帮助")
        assert "会员小助手" in reply.content
        assert fake_wechat.sent == []

    async def test_work_still_running_at_shutdown_is_finished(
        self, client: TestClient, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject(USER_INFO, delay=0.5)
        reply = await pusher.text(UNBOUND_OPENID, "等级")
        assert reply.is_success
        await client.close()
        custom = [message for message in fake_wechat.sent if message.kind == "custom"]
        assert len(custom) == 1

    async def test_late_answer_outside_the_window_is_dropped_quietly(
        self, client: TestClient, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        pusher.fake = None  # the follower opened no customer-service window
        fake_wechat.inject(USER_INFO, delay=0.5)
        assert (await pusher.text(UNBOUND_OPENID, "积分")).is_success
        await client.close()
        assert fake_wechat.sent == []
        assert fake_wechat.calls["/cgi-bin/message/custom/send"] == 1


class TestWithoutRedis:
    async def test_pushes_are_answered_when_redis_fails(
        self, pusher: OfficialPusher, services: Services, bound_member: Member
    ) -> None:
        working = services.redis, services.lane
        services.redis = Redis.from_url("redis://127.0.0.1:9/0")  # nothing listens there
        services.lane = lane_for(services.redis)
        try:
            reply = await pusher.text(BOUND_OPENID, "积分")
        finally:
            await services.lane.aclose()
            await services.redis.aclose()
            services.redis, services.lane = working
        assert reply.content.startswith("您当前有 0 积分")


class TestRoundTrips:
    async def test_a_known_followers_points_take_two_round_trips_to_redis(
        self, pusher: OfficialPusher, services: Services, bound_member: Member
    ) -> None:
        """The claim carries the member's stamps; the answer is recorded: nothing else."""
        batches: list[list[str]] = []
        stamps = services.members._stamps
        lanes = services.lane, stamps.lane

        class Counting:
            def __init__(self, lane: Lane) -> None:
                self.lane = lane

            async def execute(self, *commands: tuple[Any, ...]) -> list[Any]:
                batches.append([str(command[0]) for command in commands])
                return await self.lane.execute(*commands)

        services.lane = Counting(services.lane)  # type: ignore[assignment]  # execute only
        stamps.lane = Counting(stamps.lane) if stamps.lane else None  # type: ignore[assignment]
        try:
            assert (await pusher.text(BOUND_OPENID, "积分")).content.startswith("您当前有 0")
            async with services.members.recording_changes():
                await points.earn(services, bound_member.id, 8, reason="gift", idempotency_key="g")
            batches.clear()
            reply = await pusher.text(BOUND_OPENID, "积分")
        finally:
            services.lane, stamps.lane = lanes
        assert reply.content.startswith("您当前有 8 积分")  # the change is seen
        assert services.members.known_alias(follower_alias(BOUND_OPENID)) == bound_member.id
        claim_with_stamps = ["SET", "GET", "GET"] if REDIS_URL else ["SET"]
        assert batches == [claim_with_stamps, ["SET"]]
