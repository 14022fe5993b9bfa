"""The service on a real Redis Cluster: three primaries started once for the session.

Every test of this folder runs its app with `[redis] cluster = true` and `url` naming one node of
that cluster (whatever `WXMEMBER_TEST_REDIS_URL` says); the cluster is flushed on every primary
before each test. Without Debian's `redis-server` and `redis-cli` the folder is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.support.redis_cluster import missing_binaries, running_cluster
from wxmember.core.config import Config
from wxmember.core.redis import RedisClient, open_redis

ClusterClients = Callable[[], Awaitable[RedisClient]]


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of one node of a three-primary cluster, running for the whole session."""
    reason = missing_binaries()
    if reason:
        pytest.skip(f"Redis Cluster tests: {reason}")
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster.url


@pytest.fixture
async def flushed_redis(redis_cluster_url: str) -> None:
    """The cluster emptied on every primary (replaces the suite's flush of a single Redis)."""
    client = RedisCluster.from_url(redis_cluster_url)
    try:
        await client.flushdb(target_nodes=RedisCluster.PRIMARIES)
    finally:
        await client.aclose()


@pytest.fixture
def settings(settings: dict[str, dict[str, Any]], redis_cluster_url: str) -> dict[str, Any]:
    settings["redis"] = {"url": redis_cluster_url, "cluster": True}
    return settings


@pytest.fixture
async def cluster_clients(config: Config) -> AsyncIterator[ClusterClients]:
    """Opens more clients of the same cluster, as other processes of the service would."""
    async with AsyncExitStack() as stack:

        async def make() -> RedisClient:
            return await stack.enter_async_context(open_redis(config))

        yield make
