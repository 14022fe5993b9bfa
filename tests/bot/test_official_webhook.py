"""The Official Account webhook: URL verification, signatures, time window, modes, bad bodies."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
import xmltodict
from aiohttp.test_utils import TestClient

from tests.bot.conftest import UNBOUND_OPENID
from tests.support.http import error_code
from tests.support.wechat_push import OfficialPusher, PushReply, push_xml, sign, text_xml
from wxmember.core.clock import FrozenClock
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.models.bot import Follower

PATH = "/wechat/official"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oAttacker]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>
<Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&secret;</Content></xml>"""


class TestUrlVerification:
    async def test_good_signature_echoes_echostr_verbatim(
        self, client: TestClient, pusher: OfficialPusher
    ) -> None:
        query = pusher.query() | {"echostr": "4375120948345356249"}
        response = await client.get(PATH, params=query)
        assert response.status == 200
        assert await response.text() == "4375120948345356249"

    @pytest.mark.parametrize("bad", ["", "f464b24fc39322e44b38aa78f5edd27bd1441696", "x" * 40])
    async def test_bad_or_missing_signature_is_403(
        self, client: TestClient, pusher: OfficialPusher, bad: str
    ) -> None:
        query = pusher.query() | {"echostr": "12345", "signature": bad}
        response = await client.get(PATH, params=query)
        assert response.status == 403
        assert await error_code(response) == "bad_signature"
        assert "12345" not in await response.text()

    async def test_missing_echostr_is_400(self, client: TestClient, pusher: OfficialPusher) -> None:
        response = await client.get(PATH, params=pusher.query())
        assert response.status == 400
        assert await error_code(response) == "missing_echostr"


class TestOfficialSignatureVector:
    """The official example (WECHAT.md A.2): token AAAAA, at the time WeChat signed it."""

    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"token": "AAAAA"}}

    async def test_official_example_verifies(self, client: TestClient, services: Services) -> None:
        services.clock = FrozenClock(datetime.fromtimestamp(1714036504, UTC))
        query = {
            "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
            "timestamp": "1714036504",
            "nonce": "1514711492",
            "echostr": "4375120948345356249",
        }
        response = await client.get(PATH, params=query)
        assert await response.text() == "4375120948345356249"
        services.clock = FrozenClock(datetime.fromtimestamp(1714036504 + 3600, UTC))
        late = await client.get(PATH, params=query)
        assert late.status == 403
        assert await error_code(late) == "stale_timestamp"


class TestSignedPosts:
    async def test_bad_signature_post_is_403_and_runs_nothing(
        self, client: TestClient, pusher: OfficialPusher
    ) -> None:
        body, query = pusher.body(text_xml(UNBOUND_OPENID, "积分"), pusher.query(), encrypt=True)
        for broken in (
            query | {"signature": "0" * 40},
            {k: v for k, v in query.items() if k != "signature"},
            query | {"msg_signature": "0" * 40},
            {k: v for k, v in query.items() if k != "msg_signature"},
            query | {"nonce": "999"},
        ):
            reply = await pusher.post(body, broken)
            assert reply.status == 403, broken
            assert '"bad_signature"' in reply.body

    @pytest.mark.parametrize("offset", [-301, 301, -86400])
    async def test_stale_timestamp_is_refused(self, pusher: OfficialPusher, offset: int) -> None:
        reply = await pusher.send(
            text_xml(UNBOUND_OPENID, "帮助"), timestamp=int(time.time()) + offset
        )
        assert reply.status == 403
        assert '"stale_timestamp"' in reply.body

    async def test_timestamp_within_the_window_is_fine(self, pusher: OfficialPusher) -> None:
        reply = await pusher.send(
            text_xml(UNBOUND_OPENID, "帮助"), timestamp=int(time.time()) - 250
        )
        assert reply.status == 200
        assert "会员小助手" in reply.content


class TestModes:
    async def test_safe_mode_reply_is_encrypted(self, pusher: OfficialPusher) -> None:
        reply = await pusher.text(UNBOUND_OPENID, "帮助")
        assert reply.encrypted
        assert reply.message is not None
        assert reply.message["ToUserName"] == UNBOUND_OPENID
        assert "会员小助手" in reply.content

    async def test_safe_mode_refuses_plaintext(self, pusher: OfficialPusher) -> None:
        reply = await pusher.send(text_xml(UNBOUND_OPENID, "帮助"), encrypt=False)
        assert reply.status == 400
        assert '"encryption_required"' in reply.body


class TestPlainAndCompatibleModes:
    @pytest.fixture(params=["plain", "compatible"])
    def bot_settings(self, request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
        return {"official": {"mode": request.param}}

    async def test_plaintext_push_gets_plaintext_reply(self, pusher: OfficialPusher) -> None:
        reply = await pusher.send(text_xml(UNBOUND_OPENID, "help"), encrypt=False)
        assert reply.status == 200
        assert not reply.encrypted
        assert "会员小助手" in reply.content


class TestCompatibleMode:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"mode": "compatible"}}

    async def test_encrypted_push_gets_encrypted_reply(self, pusher: OfficialPusher) -> None:
        reply = await pusher.text(UNBOUND_OPENID, "帮助")
        assert reply.encrypted
        assert "会员小助手" in reply.content

    async def test_the_encrypted_copy_is_the_one_trusted(self, pusher: OfficialPusher) -> None:
        sealed = text_xml(UNBOUND_OPENID, "帮助")
        body, query = pusher.body(sealed, pusher.query(), encrypt=True)
        body = body.replace("<Content><![CDATA[帮助]]>", "<Content><![CDATA[积分]]>")
        reply = await pusher.post(body, query)
        assert "会员小助手" in reply.content


class TestBadBodies:
    @pytest.mark.parametrize(
        "body",
        [
            "",
            "not xml at all",
            "<xml><FromUserName>o</FromUserName>",
            "<root><MsgType>text</MsgType></root>",
            "<xml><FromUserName>oX</FromUserName><Content>hi</Content></xml>",
            "<xml><FromUserName>oX</FromUserName><MsgType><a>b</a></MsgType></xml>",
            b"<xml><Content>\xff\xfe</Content></xml>",
        ],
    )
    async def test_malformed_plaintext_is_400(
        self, client: TestClient, config: Config, body: str | bytes
    ) -> None:
        pusher = OfficialPusher(client, config)
        pusher.mode = "plain"
        reply = await pusher.post(body, pusher.query() | {"encrypt_type": "aes"})
        assert reply.status == 400, reply.body
        assert json.loads(reply.body)["error"]["code"] == "malformed_xml"

    async def test_malformed_inside_the_encryption_is_400(self, pusher: OfficialPusher) -> None:
        reply = await pusher.send("<xml><MsgType>text</MsgType>")
        assert reply.status == 400
        assert '"malformed_xml"' in reply.body

    async def test_ciphertext_that_does_not_decrypt_is_400(self, pusher: OfficialPusher) -> None:
        query = pusher.query()
        for garbage in ("bm90IGEgY2lwaGVydGV4dA==", "%%%not-base64%%%", "A" * 64):
            body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{garbage}</Encrypt></xml>"
            signed = query | {
                "encrypt_type": "aes",
                "msg_signature": sign(pusher.token, query["timestamp"], query["nonce"], garbage),
            }
            reply = await pusher.post(body, signed)
            assert reply.status == 400, garbage
            assert '"decrypt_failed"' in reply.body

    async def test_oversized_body_is_413(self, pusher: OfficialPusher) -> None:
        padding = "x" * (64 * 1024)
        xml = text_xml(UNBOUND_OPENID, padding)
        body, query = pusher.body(xml, pusher.query(), encrypt=True)
        reply = await pusher.post(body, query)
        assert reply.status == 413

    async def test_oversized_chunked_body_is_413(self, pusher: OfficialPusher) -> None:
        async def chunks() -> Any:
            for _ in range(20):
                yield b"<xml>" + b"y" * 8192

        reply = await pusher.post(chunks(), pusher.query())
        assert reply.status == 413

    @pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
    async def test_entity_declarations_are_refused_outside(
        self, pusher: OfficialPusher, document: str
    ) -> None:
        query = pusher.query() | {"encrypt_type": "aes", "msg_signature": "0" * 40}
        reply = await pusher.post(document, query)
        assert reply.status == 400
        assert '"malformed_xml"' in reply.body

    @pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
    async def test_entity_declarations_are_refused_inside_the_encryption(
        self, pusher: OfficialPusher, document: str
    ) -> None:
        reply = await pusher.send(document)
        assert reply.status == 400
        assert '"malformed_xml"' in reply.body


def text_doc(*extra: str, content: str | None = "帮助") -> str:
    """A text message from the unbound follower with `extra` elements appended."""
    fields = (
        {"MsgId": 4_300_000_001}
        if content is None
        else {"Content": content, "MsgId": 4_300_000_001}
    )
    xml = push_xml(UNBOUND_OPENID, "text", int(time.time()), **fields)
    return xml.replace("</xml>", "".join(extra) + "</xml>")


DEEP = "<a>" * 2000 + "x" + "</a>" * 2000  # small enough for compatible mode's copy
MALFORMED = {
    "content-twice": text_doc("<Content>积分</Content>"),
    "msgtype-twice": text_doc("<MsgType>image</MsgType>"),
    "sender-twice": text_doc("<FromUserName>oSomeoneElse</FromUserName>"),
    "elements-in-content": text_doc("<Content><a>x</a></Content>", content=None),
    "mixed-content": text_doc("<Content>hi<b>x</b>there</Content>", content=None),
    "elements-in-msgtype": (
        f"<xml><FromUserName>{UNBOUND_OPENID}</FromUserName><MsgType><a>text</a></MsgType></xml>"
    ),
    "elements-in-event-key": push_xml(
        UNBOUND_OPENID, "event", int(time.time()), Event="CLICK"
    ).replace("</xml>", "<EventKey><k>POINTS</k></EventKey></xml>"),
    "deep-in-content": text_doc(f"<Content>{DEEP}</Content>", content=None),
    "deep-beside-the-fields": text_doc(f"<Extra>{DEEP}</Extra>"),
    "deep-from-the-root": "<xml>" + DEEP + "</xml>",
    "namespaced-element": text_doc('<w:Extra xmlns:w="urn:x">1</w:Extra>'),
}


def no_error_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelno >= logging.ERROR]


def assert_malformed(reply: PushReply) -> None:
    assert reply.status == 400, reply.body
    error = json.loads(reply.body)["error"]
    assert error["code"] == "malformed_xml"
    assert error["message"]


class TestMalformedDocuments:
    """Well-formed XML that breaks a push's rules: 400 `malformed_xml`, never a 500."""

    @pytest.fixture(params=["plain", "compatible", "safe"])
    def bot_settings(self, request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
        return {"official": {"mode": request.param}}

    @pytest.mark.parametrize("name", list(MALFORMED))
    async def test_outside_any_encryption(
        self, pusher: OfficialPusher, caplog: pytest.LogCaptureFixture, name: str
    ) -> None:
        caplog.set_level(logging.DEBUG)
        if pusher.mode == "safe":  # the document is the envelope
            query = pusher.query() | {"encrypt_type": "aes", "msg_signature": "0" * 40}
            reply = await pusher.post(MALFORMED[name], query)
        else:
            reply = await pusher.send(MALFORMED[name], encrypt=False)
        assert_malformed(reply)
        assert no_error_logged(caplog)
        assert await Follower.filter(openid=UNBOUND_OPENID).count() == 0


class TestMalformedEncryptedDocuments:
    """The same inside the encryption, and in the envelope around it."""

    @pytest.fixture(params=["compatible", "safe"])
    def bot_settings(self, request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
        return {"official": {"mode": request.param}}

    @pytest.mark.parametrize("name", list(MALFORMED))
    async def test_inside_the_encryption(
        self, pusher: OfficialPusher, caplog: pytest.LogCaptureFixture, name: str
    ) -> None:
        caplog.set_level(logging.DEBUG)
        assert_malformed(await pusher.send(MALFORMED[name], encrypt=True))
        assert no_error_logged(caplog)

    @pytest.mark.parametrize(
        "extra",
        ["<Encrypt>c2Vjb25k</Encrypt>", "<Encrypt><a>x</a></Encrypt>", f"<Extra>{DEEP}</Extra>"],
        ids=["encrypt-twice", "elements-in-encrypt", "deep-beside-encrypt"],
    )
    async def test_in_the_envelope(
        self, pusher: OfficialPusher, caplog: pytest.LogCaptureFixture, extra: str
    ) -> None:
        caplog.set_level(logging.DEBUG)
        body, query = pusher.body(text_doc(), pusher.query(), encrypt=True)
        assert_malformed(await pusher.post(body.replace("</xml>", extra + "</xml>"), query))
        assert no_error_logged(caplog)


class TestPlainModeRefusesEncryptedPushes:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"mode": "plain"}}

    @pytest.mark.parametrize("shape", ["safe", "compatible"])
    async def test_encrypted_push_is_400_naming_the_mode(
        self, pusher: OfficialPusher, shape: Literal["safe", "compatible"]
    ) -> None:
        pusher.mode = shape
        reply = await pusher.send(text_xml(UNBOUND_OPENID, "帮助"), encrypt=True)
        assert reply.status == 400
        error = json.loads(reply.body)["error"]
        assert error["code"] == "encryption_not_enabled"
        assert "configured plain" in error["message"]
        assert await Follower.filter(openid=UNBOUND_OPENID).count() == 0

    async def test_an_encrypt_element_without_the_query_flag_is_refused_too(
        self, pusher: OfficialPusher
    ) -> None:
        pusher.mode = "compatible"
        body, _ = pusher.body(text_xml(UNBOUND_OPENID, "帮助"), pusher.query(), encrypt=True)
        reply = await pusher.post(body, pusher.query())
        assert reply.status == 400
        assert error_code_of(reply) == "encryption_not_enabled"

    async def test_plaintext_is_answered(self, pusher: OfficialPusher) -> None:
        reply = await pusher.send(text_xml(UNBOUND_OPENID, "帮助"))
        assert not reply.encrypted
        assert "会员小助手" in reply.content


def error_code_of(reply: PushReply) -> str:
    return str(json.loads(reply.body)["error"]["code"])


class TestWrongAppId:
    async def test_push_sealed_for_another_appid_is_403(
        self, pusher: OfficialPusher, config: Config
    ) -> None:
        from wechatpy.crypto import WeChatCrypto

        pusher.crypto = WeChatCrypto(
            pusher.token, config.official.encoding_aes_key.get_secret_value(), "wxsomeoneelse0001"
        )
        reply = await pusher.text(UNBOUND_OPENID, "帮助")
        assert reply.status == 403
        assert '"wrong_appid"' in reply.body


class TestIgnoredPushes:
    async def test_unknown_message_type_gets_success(self, pusher: OfficialPusher) -> None:
        xml = push_xml(UNBOUND_OPENID, "hologram", int(time.time()), MsgId=77)
        reply = await pusher.send(xml)
        assert reply.is_success

    @pytest.mark.parametrize("event", ["VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "weird"])
    async def test_events_without_a_handler_get_success(
        self, pusher: OfficialPusher, event: str
    ) -> None:
        reply = await pusher.event(UNBOUND_OPENID, event, "https://example.com")
        assert reply.is_success

    async def test_reply_swaps_the_addresses(self, pusher: OfficialPusher) -> None:
        reply = await pusher.text(UNBOUND_OPENID, "菜单")
        assert reply.message is not None
        assert reply.message["ToUserName"] == UNBOUND_OPENID
        assert reply.message["FromUserName"] == "gh_0123456789ab"
        assert abs(int(reply.message["CreateTime"]) - time.time()) < 60


class TestNotConfigured:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"token": "", "encoding_aes_key": ""}}

    async def test_without_a_token_nothing_is_accepted(self, client: TestClient) -> None:
        query = {"signature": sign("", "1", "2"), "timestamp": "1", "nonce": "2", "echostr": "e"}
        response = await client.get(PATH, params=query)
        assert response.status == 404
        assert await error_code(response) == "webhook_not_configured"


class TestNoAesKey:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"encoding_aes_key": ""}}

    async def test_encrypted_push_without_a_key_is_refused(
        self, client: TestClient, config: Config
    ) -> None:
        pusher = OfficialPusher(client, config.replace(official={"encoding_aes_key": "A" * 43}))
        reply = await pusher.text(UNBOUND_OPENID, "帮助")
        assert reply.status == 404
        assert '"webhook_not_configured"' in reply.body


def test_billion_laughs_fixture_is_a_real_bomb() -> None:
    with pytest.raises(Exception, match="(?i)entit|limit|expan"):
        xmltodict.parse(BILLION_LAUGHS, disable_entities=False)
