"""Subscribe-message events pushed to the Official Account: recorded like the mini-program's.

The Official Account's own subscribe messages (订阅通知) report the member's answers through its
webhook, with the same events and the same `List` items. They count for the member linked to
the follower who answered.
"""

from __future__ import annotations

import time

import pytest

from handlers.subscriptions.grants import remaining_grants
from tests.subscriptions.conftest import FOLLOWER_OPENID
from tests.support.wechat_push import OA_ID, OfficialPusher, subscribe_event
from wxmember.core.models import Member

T1 = "oaTemplate-1_AbCdEfGhIjKlMnOpQrStUvWxYz012"
T2 = "oaTemplate-2_AbCdEfGhIjKlMnOpQrStUvWxYz012"


def popup(openid: str, items: list[tuple[str, str]], at: int | None = None) -> str:
    """The Official Account's `subscribe_msg_popup_event` (PopupScene 2: an article)."""
    return subscribe_event(
        openid,
        "subscribe_msg_popup_event",
        "SubscribeMsgPopupEvent",
        [
            {"TemplateId": tid, "SubscribeStatusString": status, "PopupScene": "2"}
            for tid, status in items
        ],
        as_xml=True,
        at=at,
        to=OA_ID,
    )


def change(openid: str, template_id: str) -> str:
    return subscribe_event(
        openid,
        "subscribe_msg_change_event",
        "SubscribeMsgChangeEvent",
        [{"TemplateId": template_id, "SubscribeStatusString": "reject"}],
        as_xml=True,
        to=OA_ID,
    )


def sent(openid: str, template_id: str, msg_id: str, error_code: str, at: int) -> str:
    return subscribe_event(
        openid,
        "subscribe_msg_sent_event",
        "SubscribeMsgSentEvent",
        [{"TemplateId": template_id, "MsgID": msg_id, "ErrorCode": error_code, "ErrorStatus": "x"}],
        as_xml=True,
        at=at,
        to=OA_ID,
    )


class TestPopupEvent:
    async def test_each_accept_counts_for_the_linked_member(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        reply = await official_pusher.send(popup(FOLLOWER_OPENID, [(T1, "accept"), (T2, "reject")]))
        assert reply.is_success
        assert await remaining_grants(follower_member.id, [T1, T2]) == {T1: 1, T2: 0}
        await official_pusher.send(popup(FOLLOWER_OPENID, [(T1, "accept")]))
        assert await remaining_grants(follower_member.id, [T1]) == {T1: 2}

    async def test_a_retry_counts_once_and_another_prompt_in_that_second_counts(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        at = int(time.time())
        first = popup(FOLLOWER_OPENID, [(T1, "accept")], at=at)
        second = popup(FOLLOWER_OPENID, [(T1, "accept"), (T2, "accept")], at=at)
        for xml in (first, first, second, second):
            assert (await official_pusher.send(xml)).is_success
        assert await remaining_grants(follower_member.id, [T1, T2]) == {T1: 2, T2: 1}

    async def test_an_unlinked_follower_changes_nothing(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        reply = await official_pusher.send(popup("oSomeoneElse", [(T1, "accept")]))
        assert reply.is_success
        assert await remaining_grants(follower_member.id, [T1]) == {T1: 0}

    async def test_the_mini_program_openid_is_not_the_follower(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        assert follower_member.openid is not None
        await official_pusher.send(popup(follower_member.openid, [(T1, "accept")]))
        assert await remaining_grants(follower_member.id, [T1]) == {T1: 0}


class TestChangeAndSentEvents:
    async def test_turning_a_template_off_revokes_it(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        await official_pusher.send(popup(FOLLOWER_OPENID, [(T1, "accept"), (T2, "accept")]))
        assert (await official_pusher.send(change(FOLLOWER_OPENID, T1))).is_success
        assert await remaining_grants(follower_member.id, [T1, T2]) == {T1: 0, T2: 1}

    @pytest.mark.parametrize(("error_code", "left"), [("0", 2), ("43101", 0)])
    async def test_a_send_result(
        self,
        official_pusher: OfficialPusher,
        follower_member: Member,
        error_code: str,
        left: int,
    ) -> None:
        for _ in range(2):
            await official_pusher.send(popup(FOLLOWER_OPENID, [(T1, "accept")]))
        reply = await official_pusher.send(
            sent(FOLLOWER_OPENID, T1, "1800000001", error_code, int(time.time()))
        )
        assert reply.is_success
        assert await remaining_grants(follower_member.id, [T1]) == {T1: left}


class TestPlainMode:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        settings["official"] = {**settings["official"], "mode": "plain"}
        return settings

    async def test_plaintext_events_are_recorded(
        self, official_pusher: OfficialPusher, follower_member: Member
    ) -> None:
        assert (await official_pusher.send(popup(FOLLOWER_OPENID, [(T1, "accept")]))).is_success
        assert await remaining_grants(follower_member.id, [T1]) == {T1: 1}
