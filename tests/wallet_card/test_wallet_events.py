"""The card's events in members' wallets, pushed signed and encrypted (safe mode) to the Official
Account: each kept once even when delivered twice at the same moment, linked to the member by
the code; adding makes the holder, deleting deletes it (and the database stops marking it to
send), adding again revives it; pushes arriving out of order do not undo newer ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tortoise.expressions import F

from tests.conftest import StaffLogin
from tests.support.http import error_code
from tests.support.wechat_push import OfficialPusher
from tests.wallet_card.wallet_kit import (
    event_fields,
    live_card,
    member,
    push,
    wallet_xml,
    wechat_card,
)
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.wallet_card import HolderState, WalletCardEvent, WalletCardHolder

OA_OPENID = "o-official-1"
EXTRA: dict[str, dict[str, str]] = {
    "user_get_card": {"IsGiveByFriend": "0", "OuterStr": "miniapp"},
    "user_del_card": {},
    "user_view_card": {},
    "user_enter_session_from_card": {},
    "submit_membercard_user_info": {},
    "update_member_card": {"ModifyBonus": "20", "ModifyBalance": "0"},
}


@pytest.fixture
async def card_id(
    client: TestClient,
    owner: dict[str, str],
    fake_wechat: FakeWeChat,
    pusher: OfficialPusher,
    now: int,
) -> str:
    return await live_card(client, owner, fake_wechat, pusher, now)


@pytest.fixture
async def holder_of(
    client: TestClient, fake_wechat: FakeWeChat, card_id: str
) -> tuple[dict[str, str], str]:
    """A member with a card number, the brand's card live: headers, card number."""
    return await member(client, fake_wechat)


def moment(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


async def twice_at_once(pusher: OfficialPusher, fields: dict[str, str], at: int) -> None:
    """WeChat's retry landing while the first delivery is still being handled."""
    xml = wallet_xml(fields, at)
    replies = await asyncio.gather(pusher.send(xml), pusher.send(xml))
    assert all(reply.is_success for reply in replies), replies


async def the_holder(card_no: str) -> WalletCardHolder:
    return await WalletCardHolder.get(code=card_no)


class TestEachEvent:
    @pytest.mark.parametrize("event", sorted(EXTRA))
    async def test_an_event_delivered_twice_at_once_is_kept_once_for_the_member(
        self,
        event: str,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        fields = event_fields(event, OA_OPENID, card_id, card_no, **EXTRA[event])
        await twice_at_once(pusher, fields, now)
        [kept] = await WalletCardEvent.all()
        owner = await Member.get(card_no=card_no)
        assert (kept.event, kept.card_id, kept.code) == (event, card_id, card_no)
        assert (kept.member_id, kept.official_openid) == (owner.id, OA_OPENID)
        assert kept.detail == EXTRA[event]

    async def test_the_member_s_record_lists_their_form_and_views(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        for offset, event in enumerate(("user_view_card", "submit_membercard_user_info")):
            await push(pusher, event_fields(event, OA_OPENID, card_id, card_no), now + offset)
        owner = await Member.get(card_no=card_no)
        events = await WalletCardEvent.filter(member_id=owner.id).order_by("id")
        assert [e.event for e in events] == ["user_view_card", "submit_membercard_user_info"]
        assert not await WalletCardHolder.exists()  # viewing makes no holder

    async def test_staff_see_them_on_the_member_s_record_newest_first(
        self,
        client: TestClient,
        login_as: StaffLogin,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        owner = await Member.get(card_no=card_no)
        events = ("user_get_card", "user_view_card", "submit_membercard_user_info")
        for offset, event in enumerate(events):
            await push(pusher, event_fields(event, OA_OPENID, card_id, card_no), now + offset)
        path = f"/admin/api/v1/members/{owner.id}/wallet-card-events"
        operator = await login_as("operator")
        first = await (await client.get(path, params={"limit": "2"}, headers=operator)).json()
        assert [item["event"] for item in first["items"]] == [
            "submit_membercard_user_info",
            "user_view_card",
        ]
        rest = await client.get(
            path, params={"limit": "2", "cursor": first["next_cursor"]}, headers=operator
        )
        [added] = (await rest.json())["items"]
        assert (added["event"], added["code"], added["card_id"]) == (
            "user_get_card",
            card_no,
            card_id,
        )
        cashier = await client.get(path, headers=await login_as("cashier"))
        assert cashier.status == 403
        unknown = await client.get(
            "/admin/api/v1/members/999999/wallet-card-events", headers=operator
        )
        assert (unknown.status, await error_code(unknown)) == (404, "member_not_found")

    async def test_an_unknown_code_or_another_card_is_kept_without_a_member(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
        log_lines: Any,
    ) -> None:
        _, card_no = holder_of
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, "0000000000"), now)
        await push(pusher, event_fields("user_get_card", OA_OPENID, "pOtherCard", card_no), now)
        kept = await WalletCardEvent.all().order_by("id")
        assert [(e.card_id, e.member_id) for e in kept] == [(card_id, None), ("pOtherCard", None)]
        assert not await WalletCardHolder.exists()
        assert "wallet card event for an unknown code" in log_lines()
        assert "wallet card event about another card" in log_lines()


class TestAdding:
    async def test_the_first_add_makes_the_holder_to_activate(
        self,
        client: TestClient,
        pusher: OfficialPusher,
        fake_wechat: FakeWeChat,
        holder_of: tuple[dict[str, str], str],
        services: Services,
        now: int,
    ) -> None:
        headers, card_no = holder_of
        answer = await wechat_card(client, headers)
        fields = fake_wechat.add_card(OA_OPENID, answer["card_id"], answer["card_ext"])
        await twice_at_once(pusher, fields, now)
        [holder] = await WalletCardHolder.all()
        owner = await Member.get(card_no=card_no)
        assert (holder.member_id, holder.card_id, holder.code) == (
            owner.id,
            answer["card_id"],
            card_no,
        )
        assert (holder.state, holder.official_openid) == (HolderState.HELD, OA_OPENID)
        assert (holder.wanted_version, holder.sent_version) == (1, 0)
        assert holder.activated_at is None and holder.deleted_at is None
        assert holder.added_at == moment(now)
        assert holder.attempt_after <= services.clock.now()
        assert await WalletCardEvent.all().count() == 1

    async def test_two_adds_at_once_make_one_holder_holding_the_later(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        fields = event_fields("user_get_card", OA_OPENID, card_id, card_no)
        replies = await asyncio.gather(
            pusher.send(wallet_xml(fields, now)), pusher.send(wallet_xml(fields, now + 1))
        )
        assert all(reply.is_success for reply in replies)
        [holder] = await WalletCardHolder.all()
        assert (holder.state, holder.added_at) == (HolderState.HELD, moment(now + 1))
        assert holder.activated_at is None
        assert await WalletCardEvent.all().count() == 2

    async def test_a_delete_stops_the_marking_and_an_add_revives_it_to_activate_again(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now)
        await WalletCardHolder.filter(code=card_no).update(activated_at=moment(now), sent_version=1)
        owner = await Member.get(card_no=card_no)
        await Member.filter(id=owner.id).update(points_balance=F("points_balance") + 10)
        assert (await the_holder(card_no)).wanted_version == 2  # held: marked to send

        await push(pusher, event_fields("user_del_card", OA_OPENID, card_id, card_no), now + 5)
        deleted = await the_holder(card_no)
        assert (deleted.state, deleted.deleted_at) == (HolderState.DELETED, moment(now + 5))
        await Member.filter(id=owner.id).update(points_balance=F("points_balance") + 10)
        assert (await the_holder(card_no)).wanted_version == 2  # deleted: no longer marked

        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now + 9)
        revived = await the_holder(card_no)
        assert (revived.state, revived.deleted_at, revived.activated_at) == (
            HolderState.HELD,
            None,
            None,
        )
        assert (revived.wanted_version, revived.sent_version) == (3, 1)
        assert revived.added_at == moment(now + 9)
        assert await WalletCardHolder.all().count() == 1

    async def test_a_delete_older_than_the_last_add_is_ignored(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now)
        # deleted at +5 and added again at +9; the add arrives first
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now + 9)
        await push(pusher, event_fields("user_del_card", OA_OPENID, card_id, card_no), now + 5)
        holder = await the_holder(card_no)
        assert (holder.state, holder.added_at) == (HolderState.HELD, moment(now + 9))
        assert await WalletCardEvent.all().count() == 3

    async def test_an_add_older_than_the_delete_is_ignored(
        self,
        pusher: OfficialPusher,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        _, card_no = holder_of
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now)
        await push(pusher, event_fields("user_del_card", OA_OPENID, card_id, card_no), now + 9)
        await push(pusher, event_fields("user_get_card", OA_OPENID, card_id, card_no), now + 5)
        holder = await the_holder(card_no)
        assert (holder.state, holder.wanted_version) == (HolderState.DELETED, 1)

    async def test_the_fake_s_delete_and_add_again_end_with_a_held_card_to_activate(
        self,
        client: TestClient,
        pusher: OfficialPusher,
        fake_wechat: FakeWeChat,
        holder_of: tuple[dict[str, str], str],
        card_id: str,
        now: int,
    ) -> None:
        headers, card_no = holder_of
        added = fake_wechat.add_card(
            OA_OPENID, card_id, (await wechat_card(client, headers))["card_ext"]
        )
        await push(pusher, added, now)
        await push(pusher, fake_wechat.delete_card(OA_OPENID, card_id, card_no), now + 1)
        assert (await wechat_card(client, headers))["in_wallet"] is False
        again = fake_wechat.add_card(
            OA_OPENID, card_id, (await wechat_card(client, headers))["card_ext"]
        )
        await push(pusher, again, now + 2)
        shown = await wechat_card(client, headers)
        assert (shown["in_wallet"], shown["activated"]) == (True, False)
        assert (await the_holder(card_no)).wanted_version == 2
