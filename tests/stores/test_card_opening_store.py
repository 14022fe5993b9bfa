"""The store a member opened their card at: the mini-program's launch scene, else the
Official Account's last store QR scene of the last days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from handlers.stores.attribution import OFFICIAL_SCENE_DAYS
from tests.members.flows import login_headers, open_card, seed_tiers
from tests.stores.kit import make_store
from tests.support.localtime import freeze
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.models.stores import StoreCardOpening

NOW = datetime(2025, 6, 10, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def tiers(client: TestClient) -> None:
    await seed_tiers()


async def _opening(openid: str) -> tuple[str, str] | None:
    member = await Member.get(openid=openid)
    found = await StoreCardOpening.get_or_none(member_id=member.id).select_related("store")
    return None if found is None else (found.store.code, found.source.value)


class TestOpenedAtStore:
    @pytest.mark.parametrize("scene", ["store_SH-01", "SH-01"])
    async def test_the_launch_scene_names_the_store(
        self, client: TestClient, fake_wechat: FakeWeChat, scene: str
    ) -> None:
        await make_store("SH-01")
        headers = await login_headers(client, fake_wechat, "o-amy")
        await open_card(client, headers, store_scene=scene)
        assert await _opening("o-amy") == ("SH-01", "miniapp_scene")

    @pytest.mark.parametrize("scene", ["store_NOPE", "store_OLD", ""])
    async def test_an_unknown_or_closed_store_attributes_nothing_and_the_card_opens(
        self, client: TestClient, fake_wechat: FakeWeChat, scene: str
    ) -> None:
        await make_store("OLD", active=False)
        headers = await login_headers(client, fake_wechat, "o-amy")
        card = await open_card(client, headers, store_scene=scene)
        assert card["card_no"]
        assert await _opening("o-amy") is None

    @pytest.mark.parametrize(("days_ago", "expected"), [(1, ("BJ-2", "official_scene")), (8, None)])
    async def test_a_recent_official_account_store_scene_counts(
        self,
        client: TestClient,
        services: Services,
        fake_wechat: FakeWeChat,
        days_ago: int,
        expected: tuple[str, str] | None,
    ) -> None:
        assert OFFICIAL_SCENE_DAYS == 7
        freeze(services, NOW)
        await make_store("BJ-2")
        headers = await login_headers(client, fake_wechat, "o-amy")
        member = await Member.get(openid="o-amy")
        await Follower.create(
            openid="oa-amy",
            member_id=member.id,
            subscribed=True,
            last_scene="store_BJ-2",
            last_scene_at=NOW - timedelta(days=days_ago),
        )
        await open_card(client, headers)
        assert await _opening("o-amy") == expected

    async def test_the_launch_scene_wins_over_the_official_account(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        freeze(services, NOW)
        await make_store("BJ-2")
        await make_store("SH-01")
        headers = await login_headers(client, fake_wechat, "o-amy")
        member = await Member.get(openid="o-amy")
        await Follower.create(
            openid="oa-amy", member_id=member.id, last_scene="store_BJ-2", last_scene_at=NOW
        )
        await open_card(client, headers, store_scene="store_SH-01")
        assert await _opening("o-amy") == ("SH-01", "miniapp_scene")
