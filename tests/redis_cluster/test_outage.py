"""A primary of the cluster goes away and comes back: the service carries on meanwhile, as the
README's "Without Redis" says for the keys that node served, and is whole again once it is back.

The test stops a node of a cluster of its own (the session's cluster stays untouched). The node
comes back with its slots and without its data, as a restarted primary that saves nothing does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio.cluster import RedisCluster

from handlers.subscriptions.grants import (
    SOURCE_CLIENT,
    SOURCE_PUSH,
    record_grants,
    remaining_grants,
)
from jobs.lease import LEASE_KEY, LeaderLease
from tests.members.flows import cardholder, seed_tiers
from tests.support.redis_cluster import Cluster, running_cluster
from wxmember.core import ratelimit
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member


@pytest.fixture
def own_cluster(redis_cluster_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster for this test alone (asked for the session's first, so the folder's skip holds)."""
    with running_cluster(tmp_path / "own-cluster") as cluster:
        yield cluster


@pytest.fixture
def settings(settings: dict[str, Any], own_cluster: Cluster) -> dict[str, Any]:
    settings["redis"]["url"] = own_cluster.url
    return settings


async def ready(client: TestClient) -> int:
    return (await client.get("/readyz")).status


class TestAPrimaryRestarted:
    async def test_the_service_carries_on_and_is_whole_again(
        self,
        client: TestClient,
        services: Services,
        fake_wechat: FakeWeChat,
        own_cluster: Cluster,
    ) -> None:
        redis = services.redis
        assert isinstance(redis, RedisCluster)
        await seed_tiers()
        headers, _ = await cardholder(client, fake_wechat, "o-cluster-restart")
        lease = LeaderLease(redis, holder="me", seconds=30)
        assert await lease.acquire()
        holder = redis.get_node_from_key(LEASE_KEY)
        assert holder is not None
        [node] = [node for node in own_cluster.nodes if node.port == holder.port]

        node.stop()
        assert await ready(client) == 503
        assert (await client.get("/api/v1/card", headers=headers)).status == 200

        node.start()
        for other in own_cluster.nodes:
            other.wait_until_ok()
        async with asyncio.timeout(10):
            while await ready(client) != 200:
                await asyncio.sleep(0.1)

        assert not await lease.renew(), "the restarted node lost the lease with its data"
        assert await lease.acquire() and await lease.renew() and await lease.release()
        member_id = (await Member.get(openid="o-cluster-restart")).id
        for source in (SOURCE_PUSH, SOURCE_CLIENT):
            await record_grants(services, member_id, ["tpl-restart"], source=source)
        assert await remaining_grants(member_id, ["tpl-restart"]) == {"tpl-restart": 1}
        await ratelimit.enforce(redis, "restart", 1, 60, fail_open=False)
        assert await services.miniapp.access_token()
