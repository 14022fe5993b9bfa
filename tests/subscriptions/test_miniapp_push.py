"""The mini-program message push: subscribe-message events recorded as grants."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from wechatpy.crypto import WeChatCrypto

from handlers.subscriptions.grants import remaining_grants
from tests.subscriptions.conftest import MEMBER_OPENID
from tests.support.settings import MINIAPP_APPID
from tests.support.wechat_push import (
    MINIAPP_AES_KEY,
    MINIAPP_TOKEN,
    MiniappPusher,
    popup_event,
    sent_event,
    sign,
    subscribe_event,
)
from wxmember.core.models import Member

PATH = "/wechat/miniapp"
T1 = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"
T2 = "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"
T3 = "tmpl-3_birthday"


def query(token: str = MINIAPP_TOKEN) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "55"
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}


DEEP_XML = "<a>" * 5000 + "x" + "</a>" * 5000
POPUP_HEAD = f'"FromUserName": "{MEMBER_OPENID}", "MsgType": "event", '
POPUP_HEAD += '"Event": "subscribe_msg_popup_event"'
ITEM = f'{{"TemplateId": "{T1}", "SubscribeStatusString": "accept"}}'

BAD_CASES: list[tuple[str, str, str]] = [
    ("json-deep-object", '{"a": ' * 5000 + "1" + "}" * 5000, "malformed_push"),
    (
        "json-deep-list",
        "{" + POPUP_HEAD + ', "List": ' + "[" * 5000 + "]" * 5000 + "}",
        "malformed_push",
    ),
    (
        "json-deep-in-an-item",
        "{" + POPUP_HEAD + f', "List": {{"TemplateId": "{T1}", "X": ' + "[" * 20 + "]" * 20 + "}}",
        "malformed_push",
    ),
    (
        "json-sender-a-list",
        f'{{"FromUserName": ["{MEMBER_OPENID}"], "Event": "x"}}',
        "malformed_push",
    ),
    ("json-event-an-object", '{"FromUserName": "o", "Event": {"a": "b"}}', "malformed_push"),
    ("json-encrypt-an-object", '{"ToUserName": "gh", "Encrypt": {"a": "b"}}', "malformed_push"),
    (
        "json-name-twice",
        "{" + POPUP_HEAD + ', "Event": "x", "List": ' + ITEM + "}",
        "malformed_push",
    ),
    ("json-not-an-object", "[" + ITEM + "]", "malformed_push"),
    (
        "xml-event-twice",
        f"<xml><FromUserName>{MEMBER_OPENID}</FromUserName><Event>subscribe_msg_popup_event</Event>"
        "<Event>subscribe_msg_popup_event</Event></xml>",
        "malformed_xml",
    ),
    (
        "xml-elements-in-event",
        "<xml><FromUserName>o</FromUserName><Event><a>x</a></Event></xml>",
        "malformed_xml",
    ),
    (
        "xml-deep",
        f"<xml><FromUserName>{MEMBER_OPENID}</FromUserName><Event>subscribe_msg_popup_event</Event>"
        f"<SubscribeMsgPopupEvent>{DEEP_XML}</SubscribeMsgPopupEvent></xml>",
        "malformed_xml",
    ),
    ("xml-encrypt-twice", "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "malformed_xml"),
]
BAD_PUSHES = [(payload, code) for _, payload, code in BAD_CASES]


class TestUrlVerification:
    async def test_good_signature_echoes(self, client: TestClient) -> None:
        response = await client.get(PATH, params=query() | {"echostr": "abc123"})
        assert await response.text() == "abc123"

    async def test_bad_signature_is_403(self, client: TestClient) -> None:
        response = await client.get(PATH, params=query("wrong") | {"echostr": "abc123"})
        assert response.status == 403


class TestPopupEvent:
    @pytest.mark.parametrize("as_xml", [False, True], ids=["json", "xml"])
    async def test_one_item_is_an_object(
        self, miniapp_pusher: MiniappPusher, member: Member, as_xml: bool
    ) -> None:
        status, body = await miniapp_pusher.send(
            popup_event(MEMBER_OPENID, [(T1, "accept")], as_xml=as_xml)
        )
        assert (status, body) == (200, "success")
        assert await remaining_grants(member.id, [T1]) == {T1: 1}

    @pytest.mark.parametrize("as_xml", [False, True], ids=["json", "xml"])
    async def test_several_items_are_an_array(
        self, miniapp_pusher: MiniappPusher, member: Member, as_xml: bool
    ) -> None:
        items = [(T1, "accept"), (T2, "reject"), (T3, "accept")]
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, items, as_xml=as_xml))
        assert await remaining_grants(member.id, [T1, T2, T3]) == {T1: 1, T2: 0, T3: 1}

    async def test_items_directly_under_the_event_element(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        payload = popup_event(MEMBER_OPENID, [(T1, "accept")])
        payload["SubscribeMsgPopupEvent"] = [payload.pop("List")]
        payload["CreateTime"] = int(payload["CreateTime"])  # sometimes a number
        await miniapp_pusher.send(payload)
        assert await remaining_grants(member.id, [T1]) == {T1: 1}

    async def test_each_accept_adds_one(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        for _ in range(3):
            await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")]))
        assert await remaining_grants(member.id, [T1]) == {T1: 3}

    async def test_a_retried_push_counts_once(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        payload = popup_event(MEMBER_OPENID, [(T1, "accept")])
        for _ in range(3):
            assert (await miniapp_pusher.send(payload))[0] == 200
        assert await remaining_grants(member.id, [T1]) == {T1: 1}

    async def test_unknown_user_and_bad_template_ids_are_ignored(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        assert (await miniapp_pusher.send(popup_event("oStranger", [(T1, "accept")])))[0] == 200
        bad = popup_event(MEMBER_OPENID, [("has space", "accept"), ("x" * 65, "accept")])
        assert (await miniapp_pusher.send(bad))[0] == 200
        assert await remaining_grants(member.id, [T1]) == {T1: 0}


class TestEventsInTheSameSecond:
    """WeChat keys events by sender and second; two real events can share both."""

    async def test_two_prompts_in_one_second_both_count(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        at = int(time.time())
        first = popup_event(MEMBER_OPENID, [(T1, "accept")], at=at)
        second = popup_event(MEMBER_OPENID, [(T1, "accept"), (T3, "accept")], at=at)
        assert await miniapp_pusher.send(first) == (200, "success")
        assert await miniapp_pusher.send(second) == (200, "success")
        assert await remaining_grants(member.id, [T1, T3]) == {T1: 2, T3: 1}

    @pytest.mark.parametrize("as_xml", [False, True], ids=["json", "xml"])
    async def test_two_prompts_differing_only_in_the_template_both_count(
        self, miniapp_pusher: MiniappPusher, member: Member, as_xml: bool
    ) -> None:
        at = int(time.time())
        for template in (T1, T2):
            await miniapp_pusher.send(
                popup_event(MEMBER_OPENID, [(template, "accept")], as_xml=as_xml, at=at)
            )
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 1, T2: 1}

    async def test_a_send_result_and_a_refusal_in_one_second_are_both_applied(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        for _ in range(2):
            await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")]))
        at = int(time.time())
        delivered = sent_event(MEMBER_OPENID, T1, "1700000001", "0", at=at)
        refused = sent_event(MEMBER_OPENID, T1, "1700000002", "43101", at=at)
        assert await miniapp_pusher.send(delivered) == (200, "success")
        assert await miniapp_pusher.send(refused) == (200, "success")
        assert await remaining_grants(member.id, [T1]) == {T1: 0}

    async def test_two_templates_turned_off_in_one_second_are_both_revoked(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept"), (T2, "accept")]))
        at = int(time.time())
        for template in (T1, T2):
            change = subscribe_event(
                MEMBER_OPENID,
                "subscribe_msg_change_event",
                "SubscribeMsgChangeEvent",
                [{"TemplateId": template, "SubscribeStatusString": "reject"}],
                at=at,
            )
            assert await miniapp_pusher.send(change) == (200, "success")
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 0, T2: 0}

    async def test_a_true_retry_in_that_second_is_still_recorded_once(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        at = int(time.time())
        first = popup_event(MEMBER_OPENID, [(T1, "accept")], at=at)
        second = popup_event(MEMBER_OPENID, [(T1, "accept"), (T3, "accept")], at=at)
        for payload in (first, second, first, second):  # each delivered twice, encrypted afresh
            assert await miniapp_pusher.send(payload) == (200, "success")
        assert await remaining_grants(member.id, [T1, T3]) == {T1: 2, T3: 1}


class TestChangeAndSentEvents:
    async def test_change_event_revokes(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept"), (T2, "accept")]))
        change = subscribe_event(
            MEMBER_OPENID,
            "subscribe_msg_change_event",
            "SubscribeMsgChangeEvent",
            [{"TemplateId": T1, "SubscribeStatusString": "reject"}],
            as_xml=True,
        )
        await miniapp_pusher.send(change)
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 0, T2: 1}

    @pytest.mark.parametrize(("error_code", "left"), [("0", 2), ("43101", 0)])
    async def test_sent_event(
        self, miniapp_pusher: MiniappPusher, member: Member, error_code: str, left: int
    ) -> None:
        for _ in range(2):
            await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")]))
        sent = subscribe_event(
            MEMBER_OPENID,
            "subscribe_msg_sent_event",
            "SubscribeMsgSentEvent",
            [
                {
                    "TemplateId": T1,
                    "MsgID": "1700000000",
                    "ErrorCode": error_code,
                    "ErrorStatus": "x",
                }
            ],
        )
        assert (await miniapp_pusher.send(sent))[0] == 200
        assert await remaining_grants(member.id, [T1]) == {T1: left}

    async def test_other_events_get_success(self, miniapp_pusher: MiniappPusher) -> None:
        payload = {"FromUserName": MEMBER_OPENID, "MsgType": "event", "Event": "user_enter"}
        assert await miniapp_pusher.send(payload) == (200, "success")


class TestRefusals:
    async def test_plaintext_is_refused_when_a_key_is_configured(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        status, body = await miniapp_pusher.send(
            popup_event(MEMBER_OPENID, [(T1, "accept")]), encrypt=False
        )
        assert status == 400
        assert '"encryption_required"' in body

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ("hello", "malformed_push"),
            ("[1, 2]", "malformed_push"),
            ("{not json", "malformed_push"),
            ("<xml><Event>x</Event>", "malformed_xml"),
            ('<!DOCTYPE x [<!ENTITY a "b">]><xml><Event>&a;</Event></xml>', "malformed_xml"),
        ],
    )
    async def test_malformed_bodies_are_400(
        self, miniapp_pusher: MiniappPusher, payload: str, code: str
    ) -> None:
        status, body = await miniapp_pusher.send(payload)
        assert status == 400
        assert f'"{code}"' in body

    @pytest.mark.parametrize(("payload", "code"), BAD_PUSHES, ids=[i for i, _, _ in BAD_CASES])
    async def test_bad_pushes_inside_the_encryption_are_4xx_and_no_error(
        self,
        miniapp_pusher: MiniappPusher,
        member: Member,
        caplog: pytest.LogCaptureFixture,
        payload: str,
        code: str,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        status, body = await miniapp_pusher.send(payload)
        assert status == 400, body
        assert json.loads(body)["error"]["code"] == code
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert await remaining_grants(member.id, [T1]) == {T1: 0}

    @pytest.mark.parametrize(("payload", "code"), BAD_PUSHES, ids=[i for i, _, _ in BAD_CASES])
    async def test_bad_envelopes_outside_the_encryption_are_4xx_and_no_error(
        self,
        miniapp_pusher: MiniappPusher,
        caplog: pytest.LogCaptureFixture,
        payload: str,
        code: str,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        status, body = await miniapp_pusher.post(payload, miniapp_pusher.query(encrypted="x"))
        assert status == 400, body
        assert json.loads(body)["error"]["code"] == code
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    async def test_items_of_the_wrong_shape_are_skipped(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        items: list[Any] = [1, "x", None, [], {"TemplateId": [T1]}, {"TemplateId": {"a": T1}}]
        payload = popup_event(MEMBER_OPENID, [(T2, "accept")])
        payload["List"] = [*items, payload["List"]]
        assert await miniapp_pusher.send(payload) == (200, "success")
        assert await remaining_grants(member.id, [T1, T2]) == {T1: 0, T2: 1}

    async def test_bad_signature_is_403(self, client: TestClient) -> None:
        response = await client.post(PATH, params=query("wrong"), data=b"{}")
        assert response.status == 403

    async def test_wrong_appid_is_403(self, miniapp_pusher: MiniappPusher) -> None:
        miniapp_pusher.crypto = WeChatCrypto(MINIAPP_TOKEN, MINIAPP_AES_KEY, "wxnotthisapp00001")
        status, body = await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")]))
        assert status == 403
        assert '"wrong_appid"' in body

    async def test_oversized_body_is_413(self, client: TestClient) -> None:
        response = await client.post(PATH, params=query(), data=b"{" + b" " * 70_000 + b"}")
        assert response.status == 413


class TestPlaintextPush:
    @pytest.fixture
    def miniapp_push_settings(self) -> dict[str, Any]:
        return {"token": MINIAPP_TOKEN, "encoding_aes_key": ""}

    async def test_without_a_key_plaintext_is_read(
        self, miniapp_pusher: MiniappPusher, member: Member
    ) -> None:
        await miniapp_pusher.send(popup_event(MEMBER_OPENID, [(T1, "accept")], as_xml=True))
        assert await remaining_grants(member.id, [T1]) == {T1: 1}

    @pytest.mark.parametrize("as_xml", [False, True], ids=["json", "xml"])
    async def test_an_encrypted_push_is_400_naming_the_plain_configuration(
        self, miniapp_pusher: MiniappPusher, member: Member, as_xml: bool
    ) -> None:
        miniapp_pusher.crypto = WeChatCrypto(MINIAPP_TOKEN, MINIAPP_AES_KEY, MINIAPP_APPID)
        payload = popup_event(MEMBER_OPENID, [(T1, "accept")], as_xml=as_xml)
        status, body = await miniapp_pusher.send(payload, encrypt=True)
        assert status == 400
        error = json.loads(body)["error"]
        assert error["code"] == "encryption_not_enabled"
        assert "configured plain" in error["message"]
        assert await remaining_grants(member.id, [T1]) == {T1: 0}

    async def test_an_encrypt_field_without_the_query_flag_is_refused_too(
        self, miniapp_pusher: MiniappPusher
    ) -> None:
        envelope = {"ToUserName": "gh_miniapp0001", "Encrypt": "c2VhbGVk"}
        status, body = await miniapp_pusher.send(envelope)
        assert status == 400
        assert json.loads(body)["error"]["code"] == "encryption_not_enabled"
