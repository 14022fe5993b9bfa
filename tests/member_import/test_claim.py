"""A card opened in the mini-program with an imported member's phone claims that member."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import entry_tier
from tests.member_import.kit import card, file_of, phone, row, run, staff
from tests.members.flows import login, login_headers
from tests.support.http import bearer
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member, Tier
from wxmember.core.models.member_imports import ImportedMember


async def _imported(services: Services, **values: object) -> Member:
    await entry_tier()
    await Tier.create(name="金卡会员", level=2, color="#D4A017", growth_threshold=5000)
    await run(services, await staff(), file_of(row(1, tier="金卡会员", points=800, **values)))
    return await Member.get(card_no=card(1))


async def _open(
    client: TestClient, fake_wechat: FakeWeChat, openid: str, headers: dict[str, str]
) -> tuple[int, Any]:
    code = fake_wechat.issue_phone_code(phone(1), openid=openid)
    response = await client.post(
        "/api/v1/card",
        json={"name": "新名字", "birthday": "1991-01-02", "phone_code": code},
        headers=headers,
    )
    return response.status, await response.json()


class TestClaimAtCardOpening:
    async def test_the_wechat_identity_is_attached_to_the_imported_member(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        imported = await _imported(services)
        headers = await login_headers(client, fake_wechat, "o-amy")
        shell = await Member.get(openid="o-amy")
        status, answer = await _open(client, fake_wechat, "o-amy", headers)
        assert status == 201, answer
        assert (answer["card_no"], answer["points"], answer["tier"]["name"]) == (
            card(1),
            800,
            "金卡会员",
        )
        assert answer["name"] == "会员1"  # the imported name is kept
        member = await Member.get(id=imported.id)
        assert member.openid == "o-amy"
        assert (await ImportedMember.get(member_id=imported.id)).claimed_at is not None
        retired = await Member.get(id=shell.id)
        assert (retired.openid, retired.card_no) == (None, None)
        assert retired.deleted_at is not None
        assert await Member.filter(card_no__isnull=False).count() == 1

        # The old session has ended; logging in again lands on the claimed member.
        again = await client.get("/api/v1/card", headers=headers)
        assert again.status == 401
        fresh = bearer((await login(client, fake_wechat, "o-amy"))["token"])
        shown = await (await client.get("/api/v1/card", headers=fresh)).json()
        assert (shown["card_no"], shown["points"]) == (card(1), 800)

    async def test_blank_imported_fields_are_filled_from_the_form(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        imported = await _imported(services, name="", birthday="")
        headers = await login_headers(client, fake_wechat, "o-amy")
        status, answer = await _open(client, fake_wechat, "o-amy", headers)
        assert status == 201
        assert (answer["name"], answer["birthday"]) == ("新名字", "1991-01-02")
        assert (await Member.get(id=imported.id)).birth_month == 1

    async def test_a_claimed_member_is_not_claimed_twice(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await _imported(services)
        first = await login_headers(client, fake_wechat, "o-amy")
        assert (await _open(client, fake_wechat, "o-amy", first))[0] == 201
        second = await login_headers(client, fake_wechat, "o-bob")
        status, answer = await _open(client, fake_wechat, "o-bob", second)
        assert (status, answer["error"]["code"]) == (409, "phone_taken")
        assert (await Member.get(card_no=card(1))).openid == "o-amy"

    async def test_concurrent_claims_of_one_member_have_one_winner(
        self, client: TestClient, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        imported = await _imported(services)
        openids = [f"o-rush-{n}" for n in range(6)]
        headers = [await login_headers(client, fake_wechat, openid) for openid in openids]
        results = await asyncio.gather(
            *(
                _open(client, fake_wechat, openid, header)
                for openid, header in zip(openids, headers, strict=True)
            )
        )
        assert Counter(status for status, _ in results) == {201: 1, 409: 5}
        assert {body["error"]["code"] for status, body in results if status == 409} == {
            "phone_taken"
        }
        winner = openids[next(i for i, (status, _) in enumerate(results) if status == 201)]
        assert (await Member.get(id=imported.id)).openid == winner
        losers = await Member.filter(openid__in=openids).exclude(openid=winner)
        assert len(losers) == 5 and all(m.deleted_at is None for m in losers)
        assert await Member.filter(card_no__isnull=False).count() == 1
