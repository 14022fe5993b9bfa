"""`POST /api/v1/subscriptions` and the grant store behind it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from handlers.subscriptions.grants import (
    SOURCE_CLIENT,
    SOURCE_PUSH,
    consume_grant,
    record_grants,
    remaining_grants,
    revoke,
)
from tests.factories import auth_headers
from tests.subscriptions.conftest import MEMBER_OPENID
from tests.support.http import error_code
from tests.support.wechat_push import MiniappPusher, popup_event
from wxmember.core.context import Services
from wxmember.core.models import Member

PATH = "/api/v1/subscriptions"
T1, T2 = "tmpl_points_expiring", "tmpl-birthday-2"


async def report(
    client: TestClient, services: Services, member: Member, body: Any
) -> tuple[int, dict[str, Any]]:
    response = await client.post(PATH, json=body, headers=auth_headers(services, member))
    return response.status, await response.json()


class TestRecordSubscriptions:
    async def test_accepted_templates_are_granted(
        self, client: TestClient, services: Services, member: Member
    ) -> None:
        assert await report(client, services, member, {"template_ids": [T1, T2]}) == (
            200,
            {"grants": {T1: 1, T2: 1}},
        )
        assert await report(client, services, member, {"template_ids": [T1, T1]}) == (
            200,
            {"grants": {T1: 2}},
        )

    @pytest.mark.parametrize(
        "body",
        [
            {"template_ids": []},
            {"template_ids": [f"t{n}" for n in range(11)]},
            {"template_ids": [""]},
            {"template_ids": ["x" * 65]},
            {"template_ids": ["has space"]},
            {"template_ids": ["slash/ed"]},
            {"template_ids": ["中文模板"]},
            {"template_ids": [7]},
            {"template_ids": "T1"},
            {},
        ],
    )
    async def test_invalid_template_ids_are_400(
        self, client: TestClient, services: Services, member: Member, body: Any
    ) -> None:
        status, answer = await report(client, services, member, body)
        assert status == 400
        assert answer["error"]["code"] == "invalid_template_ids"

    async def test_other_bad_bodies_are_400(
        self, client: TestClient, services: Services, member: Member
    ) -> None:
        extra = await report(client, services, member, {"template_ids": [T1], "x": 1})
        assert extra[1]["error"]["code"] == "invalid_x"
        response = await client.post(
            PATH, data="template_ids=T1", headers=auth_headers(services, member)
        )
        assert await error_code(response) == "not_json"

    async def test_needs_a_member_session(self, client: TestClient) -> None:
        response = await client.post(PATH, json={"template_ids": [T1]})
        assert response.status == 401

    async def test_reports_are_rate_limited(
        self, client: TestClient, services: Services, member: Member
    ) -> None:
        statuses = [
            (await report(client, services, member, {"template_ids": [T1]}))[0] for _ in range(21)
        ]
        assert statuses == [200] * 20 + [429]
        status, body = await report(client, services, member, {"template_ids": [T1]})
        assert body["error"]["code"] == "too_many_requests"
        assert await remaining_grants(member.id, [T1]) == {T1: 20}


class TestOneAcceptTwoReports:
    """The mini-program and WeChat's push both report an accept; it counts once."""

    async def test_push_then_client(
        self,
        client: TestClient,
        services: Services,
        member: Member,
        miniapp_pusher: MiniappPusher,
    ) -> None:
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")]))
        _, body = await report(client, services, member, {"template_ids": [T1]})
        assert body == {"grants": {T1: 1}}

    async def test_client_then_push(
        self,
        client: TestClient,
        services: Services,
        member: Member,
        miniapp_pusher: MiniappPusher,
    ) -> None:
        await report(client, services, member, {"template_ids": [T1, T2]})
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept"), (T2, "accept")]))
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 1, T2: 1}

    @pytest.mark.parametrize(
        ("sources", "expected"),
        [
            ([SOURCE_CLIENT, SOURCE_CLIENT], 2),
            ([SOURCE_PUSH, SOURCE_PUSH], 2),
            ([SOURCE_PUSH, SOURCE_CLIENT, SOURCE_PUSH, SOURCE_CLIENT], 2),
            ([SOURCE_PUSH, SOURCE_PUSH, SOURCE_CLIENT], 2),
            (["admin", SOURCE_CLIENT, SOURCE_PUSH], 2),
        ],
    )
    async def test_pairing(
        self, services: Services, member: Member, sources: list[str], expected: int
    ) -> None:
        for source in sources:
            await record_grants(services, member.id, [T1], source=source)
        assert await remaining_grants(member.id, [T1]) == {T1: expected}

    async def test_concurrent_reports_of_one_accept_count_once(
        self, services: Services, member: Member
    ) -> None:
        for _ in range(5):
            await asyncio.gather(
                record_grants(services, member.id, [T1], source=SOURCE_PUSH),
                record_grants(services, member.id, [T1], source=SOURCE_CLIENT),
            )
        assert await remaining_grants(member.id, [T1]) == {T1: 5}


class TestConsumeGrant:
    async def test_spends_one_at_a_time_until_none(
        self, services: Services, member: Member
    ) -> None:
        await record_grants(services, member.id, [T1, T1], source="admin")
        await record_grants(services, member.id, [T1], source="admin")
        assert [await consume_grant(member.id, T1) for _ in range(3)] == [True, True, False]
        assert await consume_grant(member.id, T2) is False
        assert await remaining_grants(member.id, [T1]) == {T1: 0}

    async def test_concurrent_spending_never_overspends(
        self, services: Services, member: Member
    ) -> None:
        for _ in range(3):
            await record_grants(services, member.id, [T1], source="admin")
        spent = await asyncio.gather(*(consume_grant(member.id, T1) for _ in range(12)))
        assert sum(spent) == 3
        assert await remaining_grants(member.id, [T1]) == {T1: 0}

    async def test_joins_the_callers_transaction(self, services: Services, member: Member) -> None:
        await record_grants(services, member.id, [T1], source="admin")
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                assert await consume_grant(member.id, T1, using_db=conn)
                raise RuntimeError("the send failed")
        assert await remaining_grants(member.id, [T1]) == {T1: 1}

    async def test_concurrent_grants_all_count(self, services: Services, member: Member) -> None:
        await asyncio.gather(
            *(record_grants(services, member.id, [T2], source="admin") for _ in range(8))
        )
        assert await remaining_grants(member.id, [T2]) == {T2: 8}


class TestRevoke:
    async def test_revoke_leaves_none(self, services: Services, member: Member) -> None:
        await record_grants(services, member.id, [T1, T2], source="admin")
        await revoke(member.id, T1)
        await revoke(member.id, "never-granted")
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 0, T2: 1}
