"""Subscribe-grant reports paired on a Redis Cluster: the WATCH of both sides' keys, one slot.

The subscriptions folder's own specification of the pairing runs here again, unchanged, with its
fixtures (the mini-program's push settings, the pusher, the member).
"""

from __future__ import annotations

import pytest

from handlers.subscriptions.grants import (
    SOURCE_CLIENT,
    SOURCE_PUSH,
    record_grants,
    remaining_grants,
    unpaired_key,
)
from tests.factories import create_member
from tests.subscriptions import test_subscriptions_api
from tests.subscriptions.conftest import (  # noqa: F401  (fixtures of the class below)
    member,
    miniapp_push_settings,
    miniapp_pusher,
    settings,
)
from wxmember.core.context import Services

T1 = "tpl-cluster-1"


class TestGrantPairing:
    @pytest.mark.parametrize("first", [SOURCE_CLIENT, SOURCE_PUSH])
    async def test_one_accept_reported_by_both_channels_counts_once(
        self, services: Services, first: str
    ) -> None:
        someone = await create_member()
        second = SOURCE_PUSH if first == SOURCE_CLIENT else SOURCE_CLIENT
        await record_grants(services, someone.id, [T1], source=first)
        assert await services.redis.get(unpaired_key(someone.id, T1, first)) == b"1"
        await record_grants(services, someone.id, [T1], source=second)
        assert await remaining_grants(someone.id, [T1]) == {T1: 1}
        assert await services.redis.get(unpaired_key(someone.id, T1, first)) == b"0"


class TestOneAcceptTwoReports(test_subscriptions_api.TestOneAcceptTwoReports):
    """Push then client, client then push, every order of sources, concurrent reports."""
