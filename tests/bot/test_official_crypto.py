"""The published test vectors (WECHAT.md A.2 and A.6): signatures, AES encrypt and decrypt."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
import xmltodict
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot.crypto import DecryptFailed, PushCrypto, WrongAppId, signature
from tests.support.wechat_push import sign
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

V1_TOKEN, V1_TS, V1_NONCE, V1_APPID = "pamtest", "1409304348", "xxxxxx", "wxb11529c136998cb6"
V1_REPLY = "我是中文abcd123"
V1_ENCRYPT = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
V1_FULL_REPLY = (
    "<xml>\n"
    f"<Encrypt><![CDATA[{V1_ENCRYPT}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[82c962d39941aa48552f90ef55aa323dc620cc10]]></MsgSignature>\n"
    f"<TimeStamp>{V1_TS}</TimeStamp>\n"
    f"<Nonce><![CDATA[{V1_NONCE}]]></Nonce>\n"
    "</xml>"
)
V1_REPLY2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName>"
    "<![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType>"
    "<![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxq"
    "dUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
V1_ENCRYPT2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkup"
    "qcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvF"
    "b3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04s"
    "q7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9Oxch"
    "WVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ"
    "6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57c"
    "ExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)

V2_TOKEN, V2_APPID = "spamtest", "wx2c2769f8efd9abc2"
V2_TS, V2_NONCE = "1409735669", "1320562132"
V2_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
V2_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
V2_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName>"
    "<![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content>"
    f"<MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[{V2_ENCRYPT}]]></Encrypt></xml>"
)
V2_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)


class FixedRandom(PrpCrypto):
    """The 16 "random" bytes of the official sample."""

    def get_random_string(self) -> str:
        return "aaaabbbbccccdddd"


def fixed_encrypt(message: str) -> str:
    crypto = WeChatCrypto(V1_TOKEN, KEY, V1_APPID)
    return str(crypto._encrypt_message(message, V1_NONCE, V1_TS, FixedRandom))


def ours_fixed(message: str) -> str:
    return PushCrypto(V1_TOKEN, KEY, V1_APPID, sample_random).encrypt(message, V1_NONCE, V1_TS)


class TestSignatureVectors:
    @pytest.mark.parametrize(
        ("parts", "expected"),
        [
            (("AAAAA", "1714036504", "1514711492"), "f464b24fc39322e44b38aa78f5edd27bd1441696"),
            (("AAAAA", "1714037059", "486452656"), "899cf89e464efb63f54ddac96b0a0a235f53aa78"),
            (("AAAAA", "1715943329", "1590219412"), "cc0c594499c1634947d5b502f158ee518947db27"),
            ((V1_TOKEN, V1_TS, V1_NONCE), "76480565cbe296026c53aaacd1ad523a1ddba24f"),
            ((V1_TOKEN, V1_TS, V1_NONCE, V1_ENCRYPT), "82c962d39941aa48552f90ef55aa323dc620cc10"),
            ((V1_TOKEN, V1_TS, V1_NONCE, V1_ENCRYPT2), "ea88b765074e41eb8c7a75b449db34fa2fd560d5"),
            ((V2_TOKEN, V2_TS, V2_NONCE, V2_ENCRYPT), V2_MSG_SIGNATURE),
        ],
    )
    def test_signature(self, parts: tuple[str, ...], expected: str) -> None:
        assert signature(*parts) == expected


def sample_random(size: int) -> bytes:
    assert size == 16
    return b"aaaabbbbccccdddd"


class TestVector1:
    """Encrypting with the sample's fixed random bytes gives the sample's ciphertext."""

    @pytest.mark.parametrize(
        ("reply", "expected"), [(V1_REPLY, V1_ENCRYPT), (V1_REPLY2, V1_ENCRYPT2)]
    )
    def test_encrypt_with_fixed_random(self, reply: str, expected: str) -> None:
        for sealed_reply in (fixed_encrypt(reply), ours_fixed(reply)):
            assert xmltodict.parse(sealed_reply)["xml"]["Encrypt"] == expected

    def test_full_encrypted_reply(self) -> None:
        assert fixed_encrypt(V1_REPLY) == V1_FULL_REPLY
        assert ours_fixed(V1_REPLY) == V1_FULL_REPLY

    @pytest.mark.parametrize(
        ("encrypt", "expected"), [(V1_ENCRYPT, V1_REPLY), (V1_ENCRYPT2, V1_REPLY2)]
    )
    def test_decrypt(self, encrypt: str, expected: str) -> None:
        crypto = PushCrypto(V1_TOKEN, KEY, V1_APPID)
        assert crypto.decrypt(encrypt, V1_TS, V1_NONCE) == expected

    def test_our_encryption_round_trips(self) -> None:
        crypto = PushCrypto(V1_TOKEN, KEY, V1_APPID)
        sealed = xmltodict.parse(crypto.encrypt(V1_REPLY2, V1_NONCE, V1_TS))["xml"]
        assert sealed["MsgSignature"] == signature(V1_TOKEN, V1_TS, V1_NONCE, sealed["Encrypt"])
        assert crypto.decrypt(sealed["Encrypt"], V1_TS, V1_NONCE) == V1_REPLY2

    def test_other_appid_and_garbage_are_told_apart(self) -> None:
        with pytest.raises(WrongAppId):
            PushCrypto(V1_TOKEN, KEY, "wxanotherapp00001").decrypt(V1_ENCRYPT, V1_TS, V1_NONCE)
        with pytest.raises(DecryptFailed):
            PushCrypto(V1_TOKEN, KEY, V1_APPID).decrypt(V1_ENCRYPT[:-8], V1_TS, V1_NONCE)


class TestAgainstWechatpy:
    """Ours and wechatpy's `WeChatCrypto` read each other's messages, whatever the text."""

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(text=st.text(max_size=300), appid=st.from_regex(r"wx[0-9a-f]{16}", fullmatch=True))
    def test_each_reads_the_others(self, text: str, appid: str) -> None:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        ours, theirs = PushCrypto(V1_TOKEN, KEY, appid), WeChatCrypto(V1_TOKEN, KEY, appid)
        sealed = xmltodict.parse(ours.encrypt(text, V1_NONCE, V1_TS))["xml"]
        assert (
            theirs.decrypt_message(
                {"Encrypt": sealed["Encrypt"]}, sealed["MsgSignature"], V1_TS, V1_NONCE
            )
            == text
        )
        encrypt = xmltodict.parse(theirs.encrypt_message(text, V1_NONCE, V1_TS))["xml"]["Encrypt"]
        assert ours.decrypt(encrypt, V1_TS, V1_NONCE) == text

    def test_every_length_pads_to_whole_blocks(self) -> None:
        crypto = PushCrypto(V1_TOKEN, KEY, V1_APPID)
        for size in range(70):
            sealed = xmltodict.parse(crypto.encrypt("x" * size, V1_NONCE, V1_TS))["xml"]
            assert len(base64.b64decode(sealed["Encrypt"])) % 32 == 0
            assert crypto.decrypt(sealed["Encrypt"], V1_TS, V1_NONCE) == "x" * size


class TestBrokenCiphertexts:
    """Every way a ciphertext can be broken is `DecryptFailed`, never another error."""

    def seal(self, plain: bytes) -> str:
        key = base64.b64decode(KEY + "=")
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    @staticmethod
    def framed(message: bytes, pad: int, length: int | None = None) -> bytes:
        """random, length field, message, AppId, then `pad` repeated to whole 32-byte blocks."""
        size = len(message) if length is None else length
        data = b"r" * 16 + size.to_bytes(4, "big") + message + V1_APPID.encode()
        return data + bytes((pad,)) * (32 - len(data) % 32)

    @pytest.mark.parametrize(
        ("message", "pad", "length"),
        [
            (b"hello", 0, None),
            (b"hello", 33, None),
            (b"hello", 0xFF, None),
            (b"hello", 21, 900),
            (b"\xff\xfe", 24, None),
        ],
        ids=["pad-0", "pad-33", "pad-255", "length-past-the-end", "not-utf-8"],
    )
    def test_is_decrypt_failed(self, message: bytes, pad: int, length: int | None) -> None:
        plain = self.framed(message, pad, length)
        with pytest.raises(DecryptFailed):
            PushCrypto(V1_TOKEN, KEY, V1_APPID).decrypt(self.seal(plain), V1_TS, V1_NONCE)

    def test_a_well_framed_message_reads(self) -> None:
        plain = self.framed(b"hello", 21)
        assert PushCrypto(V1_TOKEN, KEY, V1_APPID).decrypt(self.seal(plain), V1_TS, V1_NONCE) == (
            "hello"
        )

    def test_padding_alone_is_decrypt_failed(self) -> None:
        with pytest.raises(DecryptFailed):
            PushCrypto(V1_TOKEN, KEY, V1_APPID).decrypt(self.seal(b"\x20" * 32), V1_TS, V1_NONCE)

    @pytest.mark.parametrize("encrypt", ["", "not base64!", "YWJj", V1_ENCRYPT[:-4] + "===="])
    def test_garbage_is_decrypt_failed(self, encrypt: str) -> None:
        with pytest.raises(DecryptFailed):
            PushCrypto(V1_TOKEN, KEY, V1_APPID).decrypt(encrypt, V1_TS, V1_NONCE)


class TestVector2:
    def test_compatible_push_decrypts_to_the_expected_text(self) -> None:
        crypto = PushCrypto(V2_TOKEN, KEY, V2_APPID)
        encrypt = xmltodict.parse(V2_BODY)["xml"]["Encrypt"]
        assert crypto.check_msg_signature(V2_MSG_SIGNATURE, V2_TS, V2_NONCE, encrypt)
        assert crypto.decrypt(encrypt, V2_TS, V2_NONCE) == V2_PLAINTEXT


class TestVector2ThroughTheWebhook:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {"official": {"token": V2_TOKEN, "appid": V2_APPID, "mode": "compatible"}}

    async def test_push_is_answered_encrypted(self, client: TestClient, services: Services) -> None:
        services.clock = FrozenClock(datetime.fromtimestamp(int(V2_TS), UTC))
        query = {
            "signature": sign(V2_TOKEN, V2_TS, V2_NONCE),
            "timestamp": V2_TS,
            "nonce": V2_NONCE,
            "encrypt_type": "aes",
            "msg_signature": V2_MSG_SIGNATURE,
        }
        response = await client.post("/wechat/official", params=query, data=V2_BODY)
        assert response.status == 200
        envelope = xmltodict.parse(await response.text())["xml"]
        assert envelope["TimeStamp"] == V2_TS
        assert envelope["Nonce"] == V2_NONCE
        crypto = WeChatCrypto(V2_TOKEN, KEY, V2_APPID)
        plain = crypto.decrypt_message(
            await response.text(), envelope["MsgSignature"], V2_TS, V2_NONCE
        )
        reply = xmltodict.parse(plain)["xml"]
        assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
        assert reply["FromUserName"] == "gh_10f6c3c3ac5a"
        assert "会员小助手" in reply["Content"]  # unknown text gets the help menu
