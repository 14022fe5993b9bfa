"""Binding a follower to a member through the one-time link the bot hands out."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tests.bot.conftest import BOUND_OPENID, UNBOUND_OPENID
from tests.factories import auth_headers, create_member
from tests.support.http import error_code
from tests.support.wechat_push import OfficialPusher
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower

PATH = "/api/v1/official-binding"
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


async def binding_token(pusher: OfficialPusher, openid: str) -> str:
    reply = await pusher.text(openid, "积分")
    match = TOKEN.search(reply.content)
    assert match is not None, reply.content
    return match[1]


async def bind(
    client: TestClient, services: Services, member: Member, token: str
) -> tuple[int, dict]:
    response = await client.post(
        PATH, json={"token": token}, headers=auth_headers(services, member)
    )
    return response.status, await response.json()


class TestBinding:
    async def test_member_completes_the_binding_and_the_bot_knows_them(
        self, client: TestClient, services: Services, pusher: OfficialPusher
    ) -> None:
        member = await create_member()
        token = await binding_token(pusher, UNBOUND_OPENID)
        status, body = await bind(client, services, member, token)
        assert (status, body) == (200, {"official_bound": True})
        assert (await Member.get(id=member.id)).official_openid == UNBOUND_OPENID
        assert (await Follower.get(openid=UNBOUND_OPENID)).member_id == member.id
        reply = await pusher.text(UNBOUND_OPENID, "积分")
        assert reply.content.startswith("您当前有 0 积分")

    async def test_token_is_stored_for_ten_minutes(
        self, services: Services, pusher: OfficialPusher
    ) -> None:
        token = await binding_token(pusher, UNBOUND_OPENID)
        ttl = await services.redis.ttl(f"wxmember:bot:binding:{token}")
        assert 590 <= ttl <= 600

    async def test_token_works_once(
        self, client: TestClient, services: Services, pusher: OfficialPusher
    ) -> None:
        member = await create_member()
        token = await binding_token(pusher, UNBOUND_OPENID)
        assert (await bind(client, services, member, token))[0] == 200
        status, body = await bind(client, services, member, token)
        assert status == 404
        assert body["error"]["code"] == "binding_not_found"

    async def test_unknown_or_expired_token_is_404(
        self, client: TestClient, services: Services, pusher: OfficialPusher
    ) -> None:
        member = await create_member()
        token = await binding_token(pusher, UNBOUND_OPENID)
        await services.redis.delete(f"wxmember:bot:binding:{token}")  # what expiry does
        for candidate in (token, "A" * 24):
            status, body = await bind(client, services, member, candidate)
            assert status == 404
            assert body["error"]["code"] == "binding_not_found"

    async def test_binding_again_to_the_same_follower_is_fine(
        self, client: TestClient, services: Services, pusher: OfficialPusher
    ) -> None:
        member = await create_member()
        first, second = [await binding_token(pusher, UNBOUND_OPENID) for _ in range(2)]
        assert (await bind(client, services, member, first))[0] == 200
        assert await bind(client, services, member, second) == (200, {"official_bound": True})


class TestRefusals:
    async def test_follower_bound_to_someone_else_is_409(
        self, client: TestClient, services: Services, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        token = await binding_token(pusher, UNBOUND_OPENID)
        await Member.filter(id=bound_member.id).update(official_openid=UNBOUND_OPENID)
        other = await create_member()
        status, body = await bind(client, services, other, token)
        assert status == 409
        assert body["error"]["code"] == "already_bound"
        assert (await Member.get(id=other.id)).official_openid is None

    async def test_member_bound_to_another_follower_is_409(
        self, client: TestClient, services: Services, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        token = await binding_token(pusher, UNBOUND_OPENID)
        status, body = await bind(client, services, bound_member, token)
        assert status == 409
        assert body["error"]["code"] == "member_already_bound"
        assert (await Member.get(id=bound_member.id)).official_openid == BOUND_OPENID

    async def test_link_forwarded_to_another_wechat_user_is_409(
        self,
        client: TestClient,
        services: Services,
        pusher: OfficialPusher,
        fake_wechat: FakeWeChat,
    ) -> None:
        fake_wechat.add_follower(UNBOUND_OPENID, unionid="uFollower")
        token = await binding_token(pusher, UNBOUND_OPENID)
        member = await create_member()
        member.unionid = "uSomebodyElse"
        await member.save(update_fields=["unionid"])
        status, body = await bind(client, services, member, token)
        assert status == 409
        assert body["error"]["code"] == "binding_mismatch"
        assert (await Member.get(id=member.id)).official_openid is None

    async def test_concurrent_bindings_of_one_follower_end_with_one(
        self, client: TestClient, services: Services, pusher: OfficialPusher
    ) -> None:
        import asyncio

        members = [await create_member() for _ in range(5)]
        tokens = [await binding_token(pusher, UNBOUND_OPENID) for _ in members]
        results = await asyncio.gather(
            *(bind(client, services, m, t) for m, t in zip(members, tokens, strict=True))
        )
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 409, 409, 409, 409]
        assert await Member.filter(official_openid=UNBOUND_OPENID).count() == 1

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "invalid_token"),
            ({"token": "short"}, "invalid_token"),
            ({"token": "has spaces in it!!!!!!!"}, "invalid_token"),
            ({"token": 123}, "invalid_token"),
            ({"token": "A" * 24, "extra": 1}, "invalid_extra"),
        ],
    )
    async def test_bad_body_is_400(
        self, client: TestClient, services: Services, body: dict, code: str
    ) -> None:
        member = await create_member()
        response = await client.post(PATH, json=body, headers=auth_headers(services, member))
        assert response.status == 400
        assert await error_code(response) == code

    async def test_needs_a_member_session(self, client: TestClient) -> None:
        response = await client.post(PATH, json={"token": "A" * 24})
        assert response.status == 401
