"""Each use of Redis that meets several keys, or runs a transaction, works on a Redis Cluster.

The same operations the rest of the suite specifies on a single Redis, here against a real
three-primary cluster: the member cache's stamps, rate limits, the WeChat token's single flight,
the reminders' send pacer, the scheduler's lease (the lease's own specifications are run again
here, unchanged), the bot's push de-duplication (the pairing of subscribe grants is in
test_grants.py); then watched transactions while the client has its slot map to read again, and
a burst of operations beyond `max_connections`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from bot import dedup
from handlers.messaging.pacing import PACE_KEY, SendPacer
from handlers.subscriptions.grants import (
    SOURCE_CLIENT,
    SOURCE_PUSH,
    record_grants,
    remaining_grants,
)
from jobs.lease import LEASE_KEY, LeaderLease
from tests.factories import create_member
from tests.jobs import test_leader, test_stop
from tests.members import test_member_cache
from tests.redis_cluster.conftest import ClusterClients
from wxmember.core import member_cache, ratelimit
from wxmember.core.context import Services
from wxmember.core.errors import TooManyRequests
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.member_cache import MemberCache
from wxmember.core.models import Member
from wxmember.core.redis_lane import ClientLane, lane_for

T1 = "tpl-cluster-1"


async def load(member_id: int) -> Member | None:
    return await Member.get_or_none(id=member_id)


class TestMemberCache:
    async def test_the_service_runs_on_the_cluster(self, services: Services) -> None:
        assert isinstance(services.redis, RedisCluster)
        assert services.members._stamps.lane is services.lane
        assert isinstance(services.lane, ClientLane)  # each command to its node

    async def test_a_change_in_one_process_is_read_in_another(
        self, services: Services, cluster_clients: ClusterClients
    ) -> None:
        member = await create_member()
        here, there = services.members, MemberCache(lane_for(await cluster_clients()))
        assert (await there.get(member.id, load)) is not None

        async with here.recording_changes():  # renews the member's and everyone's marks
            await Member.filter(id=member.id).update(points_balance=77)
            member_cache.changed(member.id)
            member_cache.changed_everyone()
        seen = await there.get(member.id, load)
        assert seen is not None and seen.points_balance == 77
        keys = [member_cache._key(member.id), member_cache._EVERYONE]
        assert all(await asyncio.gather(*(services.redis.get(key) for key in keys)))

    async def test_a_request_reads_both_stamps_at_once(self, services: Services) -> None:
        member = await create_member()
        async with services.members.serving_request():
            first = await services.members._stamps.read(member.id)
            member_cache.changed(member.id)
        second = await services.members._stamps.read(member.id)
        assert first[0] != second[0], "the member's mark was renewed"
        assert first[1] == second[1], "everyone's mark was not"


class TestMemberCacheThroughTheApi(test_member_cache.TestOneProcess):
    """Every change seen by the next request, as on a single Redis."""


class TestRateLimits:
    async def test_enforce_refuses_past_the_limit(self, services: Services) -> None:
        for _ in range(3):
            await ratelimit.enforce(services.redis, "cluster:ip", 3, 60, fail_open=False)
        with pytest.raises(TooManyRequests):
            await ratelimit.enforce(services.redis, "cluster:ip", 3, 60, fail_open=False)
        assert 0 < await services.redis.ttl("wxmember:rl:cluster:ip") <= 60

    async def test_a_released_unit_can_be_taken_again(self, services: Services) -> None:
        slots = [await ratelimit.reserve(services.redis, "cluster:login", 2, 60) for _ in range(3)]
        assert slots[0] is not None and slots[1] is not None and slots[2] is None
        await ratelimit.release(services.redis, slots[0], 60)
        assert await ratelimit.reserve(services.redis, "cluster:login", 2, 60) is not None
        assert await ratelimit.reserve(services.redis, "cluster:login", 2, 60) is None

    async def test_concurrent_reservations_never_exceed_the_limit(self, services: Services) -> None:
        slots = await asyncio.gather(
            *(ratelimit.reserve(services.redis, "cluster:burst", 5, 60) for _ in range(20))
        )
        assert sum(slot is not None for slot in slots) == 5


class TestAccessToken:
    async def test_concurrent_calls_on_a_cold_cache_fetch_one_token(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        tokens = await asyncio.gather(*(services.miniapp.access_token() for _ in range(50)))
        assert len(set(tokens)) == 1
        assert fake_wechat.token_requests == 1
        assert not await services.redis.exists(services.miniapp._tokens.lock_key), "released"

    async def test_two_processes_fetch_one_token(
        self, services: Services, fake_wechat: FakeWeChat, cluster_clients: ClusterClients
    ) -> None:
        from wxmember.core.wechat import WeChatClient

        other = WeChatClient(
            session=services.miniapp._session,
            redis=await cluster_clients(),
            appid=services.miniapp.appid,
            secret=services.config.miniapp.secret.get_secret_value(),
            api_base=services.config.wechat.api_base,
            timeout=2.0,
        )
        calls = [client.access_token() for client in (services.miniapp, other) for _ in range(20)]
        assert len(set(await asyncio.gather(*calls))) == 1
        assert fake_wechat.token_requests == 1

    async def test_a_rejected_token_is_replaced_once(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        rejected = await services.miniapp.access_token()
        before = fake_wechat.token_requests
        renewed = await asyncio.gather(
            *(services.miniapp._tokens.renew(rejected) for _ in range(10))
        )
        assert len(set(renewed)) == 1 and renewed[0] != rejected
        # one renewal's requests (the stable token asked for again, then forced), not ten
        assert fake_wechat.token_requests - before <= 2


class TestSendPacer:
    async def test_two_pacers_share_one_budget_per_second(
        self, services: Services, cluster_clients: ClusterClients
    ) -> None:
        rate = 5
        pacers = [SendPacer(services.redis, rate), SendPacer(await cluster_clients(), rate)]
        sent: list[float] = []

        async def send(pacer: SendPacer) -> None:
            await pacer.wait()
            sent.append(time.time())

        await asyncio.gather(*(send(pacers[n % 2]) for n in range(2 * rate)))
        per_second: dict[int, int] = {}
        for at in sent:
            per_second[int(at)] = per_second.get(int(at), 0) + 1
        assert max(per_second.values()) <= rate
        second = int(sent[-1])
        assert 0 < await services.redis.ttl(PACE_KEY.format(second)) <= 10


class TestLease(test_leader.TestLease):
    """Acquire, compare-and-renew, compare-and-delete, held, expiry: as on a single Redis."""


class TestLeaseCancelledMidway(test_stop.TestLeaseOperationsCancelledMidway):
    """A lease call cancelled anywhere gives its node's connection back clean."""


class TestLeaseTakeover:
    async def test_another_process_takes_over_when_the_holder_stops_renewing(
        self, services: Services, cluster_clients: ClusterClients
    ) -> None:
        first = LeaderLease(services.redis, holder="first", seconds=0.4)
        second = LeaderLease(await cluster_clients(), holder="second", seconds=0.4)
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.renew()
        async with asyncio.timeout(5):
            while not await second.acquire():
                await asyncio.sleep(0.05)
        assert not await first.renew() and not await first.held()
        assert not await first.release()
        assert await second.held()
        assert await services.redis.get(LEASE_KEY) == b"second"


class TestBotDedup:
    async def test_a_repeat_gets_the_first_answer(self, services: Services) -> None:
        key = "wxmember:bot:push:official:m:1234567890"
        assert await dedup.claim(services.lane, key, 60)
        assert not await dedup.claim(services.lane, key, 60)
        waiting = asyncio.create_task(
            dedup.answer_of_first(services.lane, key, time.monotonic() + 4)
        )
        await asyncio.sleep(0.1)
        await dedup.remember(services.lane, key, "<xml>first</xml>", 60)
        assert await waiting == "<xml>first</xml>"
        assert 0 < await services.redis.ttl(key) <= 60


class TestTransactionsWhileTheSlotMapIsReadAgain:
    """A command that fails on a connection leaves the client to read the slot map again before
    its next command. A transaction under way meanwhile still goes through (the map is read on the
    service's event loop, not on the one redis-py's cluster pipeline runs its commands on)."""

    async def test_watched_transactions_go_through(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        client = services.redis
        assert isinstance(client, RedisCluster)
        member = await create_member()
        lease = LeaderLease(client, holder="me", seconds=30)
        tokens = services.miniapp._tokens
        token = await services.miniapp.access_token()

        async def map_to_read_again() -> None:
            while True:
                client._initialize = True  # as a connection error anywhere leaves it
                await asyncio.sleep(0)

        marking = asyncio.create_task(map_to_read_again())
        try:
            await record_grants(services, member.id, [T1], source=SOURCE_CLIENT)
            await record_grants(services, member.id, [T1], source=SOURCE_PUSH)
            assert await lease.acquire()
            assert await lease.renew()
            assert await lease.release()
            await tokens._delete_if_equals(tokens.token_key, token)
        finally:
            marking.cancel()
        assert await remaining_grants(member.id, [T1]) == {T1: 1}
        assert await client.get(LEASE_KEY) is None
        assert await client.get(tokens.token_key) is None


class TestBursts:
    """More operations at once than `max_connections`: they wait for a connection, as with a
    single server's blocking pool, and no node is asked for more."""

    LIMIT = 4

    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["redis"]["max_connections"] = self.LIMIT
        return settings

    async def test_a_burst_waits_for_free_connections(self, services: Services) -> None:
        client = services.redis
        assert isinstance(client, RedisCluster)
        members = [await create_member() for _ in range(3)]

        async def everything(n: int) -> None:
            await client.set(f"burst:{n}", n, ex=60)
            assert await client.get(f"burst:{n}") == str(n).encode()
            assert await services.members.get(members[n % 3].id, load) is not None
            await ratelimit.enforce(client, f"burst:{n % 5}", 1000, 60, fail_open=False)
            await record_grants(services, members[n % 3].id, [T1], source=SOURCE_CLIENT)

        await asyncio.gather(*(everything(n) for n in range(60)))
        assert max(len(node._connections) for node in client.get_nodes()) <= self.LIMIT
        assert await client.ping(target_nodes=RedisCluster.PRIMARIES)
