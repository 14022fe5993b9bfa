"""Adding the member card to WeChat's wallet from the mini-program: `GET /api/v1/card/wechat-card`
gives the card id and a `cardExt` signed with the `wx_card` API ticket (checked here with the
signature computed apart, and by the fake WeChat as `wx.addCard` checks it); its refusals; one
ticket fetch for fifty concurrent members."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient

from tests.members.flows import login_headers, seed_tiers
from tests.support.http import error_code
from tests.support.settings import OFFICIAL_APPID
from tests.support.wechat_push import OfficialPusher
from tests.wallet_card.kit import review_event_xml
from tests.wallet_card.wallet_kit import (
    TICKET,
    WECHAT_CARD,
    event_fields,
    ext_of,
    live_card,
    member,
    push,
    sorted_sha1,
    submitted_card,
    wechat_card,
)
from wxmember.core.fake_wechat import FakeAPIError, FakeWeChat

OA_OPENID = "o-official-1"  # the member as the Official Account knows them


@pytest.fixture
async def card_id(
    client: TestClient,
    owner: dict[str, str],
    fake_wechat: FakeWeChat,
    pusher: OfficialPusher,
    now: int,
) -> str:
    return await live_card(client, owner, fake_wechat, pusher, now)


class TestWechatCard:
    async def test_the_card_ext_is_the_member_s_number_signed_with_the_wx_card_ticket(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str, now: int
    ) -> None:
        headers, card_no = await member(client, fake_wechat)
        answer = await wechat_card(client, headers)
        assert answer["card_id"] == card_id
        assert (answer["in_wallet"], answer["activated"]) == (False, False)
        assert isinstance(answer["card_ext"], str)  # wx.addCard takes the JSON text
        ext = ext_of(answer)
        assert set(ext) == {"code", "timestamp", "nonce_str", "outer_str", "signature"}
        assert ext["code"] == card_no and ext["outer_str"] == "miniapp"
        assert ext["timestamp"].isdigit() and abs(int(ext["timestamp"]) - now) <= 5
        ticket = fake_wechat.card_ticket(OFFICIAL_APPID)
        expected = sorted_sha1(ticket, ext["timestamp"], card_id, card_no, ext["nonce_str"])
        assert ext["signature"] == expected

    async def test_wechat_takes_it_and_the_pushed_event_puts_the_card_in_the_wallet(
        self,
        client: TestClient,
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        card_id: str,
        now: int,
    ) -> None:
        headers, card_no = await member(client, fake_wechat)
        answer = await wechat_card(client, headers)
        event = fake_wechat.add_card(OA_OPENID, answer["card_id"], answer["card_ext"])
        assert event == event_fields(
            "user_get_card", OA_OPENID, card_id, card_no, IsGiveByFriend="0", OuterStr="miniapp"
        )
        [entry] = fake_wechat.wallet_of(OA_OPENID)
        assert (entry.code, entry.activated, entry.deleted) == (card_no, False, False)
        await push(pusher, event, now)
        again = await wechat_card(client, headers)
        assert (again["in_wallet"], again["activated"]) == (True, False)

    async def test_fifty_concurrent_members_on_a_cold_cache_cause_one_ticket_fetch(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str
    ) -> None:
        headers, _ = await member(client, fake_wechat)
        assert fake_wechat.calls[TICKET] == 0
        responses = await asyncio.gather(
            *(client.get(WECHAT_CARD, headers=headers) for _ in range(50))
        )
        assert [r.status for r in responses] == [200] * 50
        exts = [ext_of(await r.json()) for r in responses]
        assert fake_wechat.calls[TICKET] == 1
        assert len({ext["nonce_str"] for ext in exts}) == 50
        for ext in exts:  # every one signed with that one ticket, and WeChat takes each
            fake_wechat.add_card(OA_OPENID, card_id, json.dumps(ext))
            fake_wechat.delete_card(OA_OPENID, card_id, ext["code"])


class TestRefusals:
    async def test_a_member_without_a_card_is_asked_to_open_one(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str
    ) -> None:
        await seed_tiers()
        headers = await login_headers(client, fake_wechat, "o-no-card")
        response = await client.get(WECHAT_CARD, headers=headers)
        assert (response.status, await error_code(response)) == (409, "card_required")

    async def test_no_card_at_wechat_is_not_defined(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, _ = await member(client, fake_wechat)
        response = await client.get(WECHAT_CARD, headers=headers)
        assert (response.status, await error_code(response)) == (409, "wallet_card_not_defined")
        assert fake_wechat.calls[TICKET] == 0

    async def test_a_card_in_review_is_not_live(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        await submitted_card(client, owner)
        headers, _ = await member(client, fake_wechat)
        response = await client.get(WECHAT_CARD, headers=headers)
        assert (response.status, await error_code(response)) == (409, "wallet_card_not_live")
        assert (await response.json())["error"]["details"] == {"review_state": "submitted"}

    async def test_a_rejected_card_is_not_live(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        now: int,
    ) -> None:
        card = await submitted_card(client, owner)
        refused = fake_wechat.review_card(card, approved=False, reason="资质不全")
        assert (await pusher.send(review_event_xml(refused, now))).is_success
        headers, _ = await member(client, fake_wechat)
        response = await client.get(WECHAT_CARD, headers=headers)
        assert (response.status, await error_code(response)) == (409, "wallet_card_not_live")

    async def test_wechat_down_is_503_and_the_next_call_signs(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str
    ) -> None:
        headers, _ = await member(client, fake_wechat)
        fake_wechat.inject(TICKET, status=502, times=3)  # the call and both retries
        response = await client.get(WECHAT_CARD, headers=headers)
        assert (response.status, await error_code(response)) == (503, "wechat_unavailable")
        answer = await wechat_card(client, headers)
        fake_wechat.add_card(OA_OPENID, card_id, answer["card_ext"])


class TestWeChatSide:
    """`wx.addCard` as the fake WeChat checks it."""

    async def test_a_tampered_card_ext_is_refused(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str
    ) -> None:
        headers, card_no = await member(client, fake_wechat)
        ext = ext_of(await wechat_card(client, headers))
        for field, value in (("code", "9" * len(card_no)), ("timestamp", "1"), ("nonce_str", "x")):
            with pytest.raises(FakeAPIError) as refused:
                fake_wechat.add_card(OA_OPENID, card_id, json.dumps(ext | {field: value}))
            assert refused.value.errcode == 40080
        forged = sorted_sha1("not-the-ticket", ext["timestamp"], card_id, card_no, ext["nonce_str"])
        with pytest.raises(FakeAPIError) as refused:
            fake_wechat.add_card(OA_OPENID, card_id, json.dumps(ext | {"signature": forged}))
        assert refused.value.errcode == 40080
        assert fake_wechat.wallet_of(OA_OPENID) == []

    async def test_an_unknown_card_and_a_card_in_review_are_refused(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        card_id: str,
    ) -> None:
        headers, _ = await member(client, fake_wechat)
        card_ext = (await wechat_card(client, headers))["card_ext"]
        with pytest.raises(FakeAPIError) as unknown:
            fake_wechat.add_card(OA_OPENID, "pNoSuchCard", card_ext)
        assert unknown.value.errcode == 40073
        fake_wechat.cards[card_id].status = "CARD_STATUS_NOT_VERIFY"  # sent back to review
        with pytest.raises(FakeAPIError) as in_review:
            fake_wechat.add_card(OA_OPENID, card_id, card_ext)
        assert in_review.value.errcode == 40078

    async def test_a_code_in_a_wallet_cannot_be_added_again_until_deleted(
        self, client: TestClient, fake_wechat: FakeWeChat, card_id: str
    ) -> None:
        headers, card_no = await member(client, fake_wechat)
        fake_wechat.add_card(OA_OPENID, card_id, (await wechat_card(client, headers))["card_ext"])
        card_ext = (await wechat_card(client, headers))["card_ext"]
        with pytest.raises(FakeAPIError) as taken:
            fake_wechat.add_card("o-someone-else", card_id, card_ext)
        assert taken.value.errcode == 40116
        deleted = fake_wechat.delete_card(OA_OPENID, card_id, card_no)
        assert deleted == event_fields("user_del_card", OA_OPENID, card_id, card_no)
        fake_wechat.add_card(OA_OPENID, card_id, card_ext)
        entry = fake_wechat.wallet[(card_id, card_no)]
        assert (entry.deleted, entry.activated, entry.openid) == (False, False, OA_OPENID)
