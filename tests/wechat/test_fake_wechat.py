"""The fake WeChat server itself: token rules, code lifetimes, value classes, windows, faults."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

from wxmember.core.fake_wechat import FakeAPIError, FakeWeChat, create_fake_wechat_app, value_ok
from wxmember.core.fake_wechat.wallet import WalletEntry

STABLE = "/cgi-bin/stable_token"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TEMPLATE = "/cgi-bin/message/template/send"
CUSTOM = "/cgi-bin/message/custom/send"
UPLOAD = "/cgi-bin/media/upload"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32

Call = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def api(fake: FakeWeChat, fake_wechat_server: TestServer, aiohttp_client: Any) -> TestClient:
    client: TestClient = await aiohttp_client(fake_wechat_server)
    return client


@pytest.fixture
def token(fake: FakeWeChat, appid: str) -> str:
    return fake.issue_token(appid, "stable").value


@pytest.fixture
def post(api: TestClient, fake: FakeWeChat, appid: str) -> Call:
    """POST a JSON body with a fresh access token; returns the decoded answer."""

    async def call(path: str, body: Any, **params: str) -> dict[str, Any]:
        token = fake.issue_token(appid, "stable").value
        response = await api.post(path, json=body, params={"access_token": token, **params})
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result

    return call


def stable_body(appid: str, secret: str, force: bool = False) -> dict[str, Any]:
    return {
        "grant_type": "client_credential",
        "appid": appid,
        "secret": secret,
        "force_refresh": force,
    }


class TestStableToken:
    async def test_same_token_until_it_nears_expiry(
        self, api: TestClient, fake: FakeWeChat, appid: str, secret: str
    ) -> None:
        first = await (await api.post(STABLE, json=stable_body(appid, secret))).json()
        fake.advance(600)
        second = await (await api.post(STABLE, json=stable_body(appid, secret))).json()
        assert first["access_token"] == second["access_token"]
        assert first["expires_in"] == 7200 and 6590 <= second["expires_in"] <= 6600
        fake.advance(7200 - 600 - 299)  # inside the last five minutes: rotated
        third = await (await api.post(STABLE, json=stable_body(appid, secret))).json()
        assert third["access_token"] != first["access_token"]
        assert fake.check_token(first["access_token"]) == appid  # overlap: both work
        fake.advance(300)
        with pytest.raises(FakeAPIError) as info:
            fake.check_token(first["access_token"])
        assert info.value.errcode == 42001
        assert fake.token_requests == 3

    async def test_force_refresh_rules(
        self, api: TestClient, fake: FakeWeChat, appid: str, secret: str
    ) -> None:
        async def fetch(force: bool) -> str:
            response = await api.post(STABLE, json=stable_body(appid, secret, force))
            return str((await response.json())["access_token"])

        old = await fetch(False)
        new = await fetch(True)
        assert new != old
        with pytest.raises(FakeAPIError) as info:
            fake.check_token(old)
        assert info.value.errcode == 40001  # invalidated at once, no overlap
        fake.advance(10)
        assert await fetch(True) == new  # under 30 s since the last forced refresh
        for _ in range(19):
            fake.advance(31)
            await fetch(True)
        fake.advance(31)
        last = await fetch(False)
        assert await fetch(True) == last  # 20 a day used up
        fake.advance(86400)
        assert await fetch(True) != last

    @pytest.mark.parametrize(
        ("appid_of", "secret_of", "errcode"),
        [("unknown", "right", 40013), ("right", "wrong", 40125)],
    )
    async def test_bad_credentials(
        self,
        api: TestClient,
        appid: str,
        secret: str,
        appid_of: str,
        secret_of: str,
        errcode: int,
    ) -> None:
        body = stable_body(
            appid if appid_of == "right" else "wx-unknown",
            secret if secret_of == "right" else "nope",
        )
        for response in (
            await api.post(STABLE, json=body),
            await api.get("/cgi-bin/token", params={**body, "force_refresh": "0"}),
        ):
            assert response.status == 200
            answer = await response.json()
            assert answer["errcode"] == errcode
            assert " rid: " in answer["errmsg"]

    async def test_form_post_is_refused(self, api: TestClient, appid: str, secret: str) -> None:
        form = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        answer = await (await api.post(STABLE, data=form)).json()
        assert answer["errcode"] == 47001


class TestClassicToken:
    async def test_each_call_issues_a_new_token_with_a_grace_period(
        self, api: TestClient, fake: FakeWeChat, appid: str, secret: str
    ) -> None:
        query = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        first = (await (await api.get("/cgi-bin/token", params=query)).json())["access_token"]
        second = (await (await api.get("/cgi-bin/token", params=query)).json())["access_token"]
        assert first != second
        fake.advance(299)
        assert fake.check_token(first) == appid
        fake.advance(2)
        with pytest.raises(FakeAPIError):
            fake.check_token(first)
        assert fake.check_token(second) == appid
        assert fake.token_requests == 2


class TestTokenChecks:
    async def test_missing_unknown_expired_and_revoked(
        self, api: TestClient, fake: FakeWeChat, token: str
    ) -> None:
        async def errcode(params: dict[str, str]) -> int:
            response = await api.get("/cgi-bin/user/info", params={"openid": "o1", **params})
            return int((await response.json()).get("errcode", 0))

        assert await errcode({}) == 41001
        assert await errcode({"access_token": "forged"}) == 40001
        assert await errcode({"access_token": token}) == 0
        fake.expire_tokens()
        assert await errcode({"access_token": token}) == 42001
        fake.revoke_token(token)
        assert await errcode({"access_token": token}) == 40001


class TestCodes:
    async def test_login_code_lifetime_and_single_use(
        self, api: TestClient, fake: FakeWeChat, appid: str, secret: str
    ) -> None:
        async def exchange(code: str) -> dict[str, Any]:
            query = {
                "appid": appid,
                "secret": secret,
                "js_code": code,
                "grant_type": "authorization_code",
            }
            return dict(await (await api.get("/sns/jscode2session", params=query)).json())

        stale = fake.issue_login_code("o1")
        fresh = fake.issue_login_code("o2")
        fake.advance(299)
        assert (await exchange(fresh))["openid"] == "o2"
        assert (await exchange(fresh))["errcode"] == 40163
        fake.advance(2)
        assert (await exchange(stale))["errcode"] == 40029
        assert (await exchange("never-issued"))["errcode"] == 40029

    async def test_phone_code(self, post: Call, fake: FakeWeChat) -> None:
        code = fake.issue_phone_code("61234567", country_code="852", openid="o1")
        mismatch = await post("/wxa/business/getuserphonenumber", {"code": code, "openid": "o2"})
        assert mismatch["errcode"] == 40029
        answer = await post("/wxa/business/getuserphonenumber", {"code": code, "openid": "o1"})
        assert answer["errcode"] == 0 and answer["errmsg"] == "ok"
        info = answer["phone_info"]
        assert info["phoneNumber"] == "+85261234567"
        assert info["purePhoneNumber"] == "61234567"
        assert info["countryCode"] == 852
        assert set(info["watermark"]) == {"timestamp", "appid"}
        again = await post("/wxa/business/getuserphonenumber", {"code": code})
        assert again["errcode"] == 40029
        expired = fake.issue_phone_code("13800138000")
        fake.advance(301)
        late = await post("/wxa/business/getuserphonenumber", {"code": expired})
        assert late["errcode"] == 40029


VALUE_TABLE = [
    ("thing1", "会员积分即将过期，请及时使用哦", True),
    ("thing1", "一二三四五六七八九十一二三四五六七八九十一", False),
    ("number2", "12.5", True),
    ("number2", "12a", False),
    ("number2", "1" * 33, False),
    ("letter3", "abcXYZ", True),
    ("letter3", "abc1", False),
    ("symbol4", "%$#", True),
    ("symbol4", "%$#@!&", False),
    ("character_string5", "ORDER-2024_001", True),
    ("character_string5", "订单1", False),
    ("time6", "15:01", True),
    ("time6", "2019年10月1日 15:01", True),
    ("time6", "15:01~16:30", True),
    ("time6", "25:00", False),
    ("date7", "2024-06-30", True),
    ("date7", "2024年6月30日 08:00~2024年7月1日", True),
    ("date7", "next week", False),
    ("amount8", "¥100.50", True),
    ("amount8", "100元", True),
    ("amount8", "¥12345678901", False),
    ("phone_number9", "+86-13800138000", True),
    ("phone_number9", "1380013800a", False),
    ("car_number10", "粤A12345", True),
    ("car_number10", "粤A1234567", False),
    ("name11", "张三", True),
    ("name11", "John Smith", True),
    ("name11", "张三李四王五赵六钱七", True),
    ("name11", "张三李四王五赵六钱七孙", False),
    ("name11", "R2D2", False),
    ("phrase12", "已发货", True),
    ("phrase12", "已经发货了啊", False),
    ("phrase12", "ok", False),
    ("thing13", "", False),
    ("keyword1", "anything at all, old-style keys are free text", True),
]


class TestValueClasses:
    @pytest.mark.parametrize(("key", "value", "ok"), VALUE_TABLE)
    def test_value_rules(self, key: str, value: str, ok: bool) -> None:
        assert value_ok(key, value) is ok

    def test_enum_values_come_from_the_template(self) -> None:
        assert value_ok("enum1", "已完成", ["已完成", "已取消"])
        assert not value_ok("enum1", "进行中", ["已完成", "已取消"])

    async def test_subscribe_send_checks(self, post: Call, fake: FakeWeChat) -> None:
        fake.register_subscribe_template("T1", ["thing1", "phrase2"])
        fake.grant_subscription("o1", "T1")
        good = {"thing1": {"value": "积分到账"}, "phrase2": {"value": "已到账"}}
        bad = {**good, "phrase2": {"value": "已经到账了啊"}}
        missing = {"thing1": {"value": "积分到账"}}
        body = {"touser": "o1", "template_id": "T1"}
        answer = await post(SUBSCRIBE, {**body, "data": bad})
        assert answer["errcode"] == 47003
        assert answer["errmsg"].startswith("argument invalid! data.phrase2.value invalid rid: ")
        assert (await post(SUBSCRIBE, {**body, "data": missing}))["errcode"] == 47003
        assert (await post(SUBSCRIBE, {**body, "touser": "", "data": good}))["errcode"] == 40003
        unknown = {**body, "template_id": "nope", "data": good}
        assert (await post(SUBSCRIBE, unknown))["errcode"] == 40037
        assert (await post(SUBSCRIBE, {**body, "data": good}))["errcode"] == 0
        assert (await post(SUBSCRIBE, {**body, "data": good}))["errcode"] == 43101
        assert [m.data for m in fake.sent] == [{"thing1": "积分到账", "phrase2": "已到账"}]


class TestTemplateMessages:
    async def test_followers_and_dedup_window(self, post: Call, fake: FakeWeChat) -> None:
        fake.register_template("OA1")
        body = {"touser": "o1", "template_id": "OA1", "data": {"first": {"value": "hi"}}}
        assert (await post(TEMPLATE, body))["errcode"] == 43004
        fake.add_follower("o1")
        keyed = {**body, "client_msg_id": "k1"}
        first = await post(TEMPLATE, keyed)
        assert (await post(TEMPLATE, keyed))["msgid"] == first["msgid"]
        fake.advance(601)
        assert (await post(TEMPLATE, keyed))["msgid"] != first["msgid"]
        assert len(fake.sent) == 2
        fake.unfollow("o1")
        assert (await post(TEMPLATE, body))["errcode"] == 43004


class TestCustomMessages:
    async def test_interaction_windows(self, post: Call, fake: FakeWeChat) -> None:
        text = {"touser": "o1", "msgtype": "text", "text": {"content": "你好"}}
        fake.record_interaction("o1", "click")
        for _ in range(3):
            assert (await post(CUSTOM, text))["errcode"] == 0
        assert (await post(CUSTOM, text))["errcode"] == 45047
        fake.advance(61)
        assert (await post(CUSTOM, text))["errcode"] == 45015
        fake.record_interaction("o1", "message")
        fake.advance(47 * 3600)
        assert (await post(CUSTOM, text))["errcode"] == 0
        fake.unfollow("o1")
        assert (await post(CUSTOM, text))["errcode"] == 45015

    async def test_payload_validation(self, post: Call, fake: FakeWeChat) -> None:
        fake.open_window("o1")
        empty = {"touser": "o1", "msgtype": "text", "text": {"content": ""}}
        assert (await post(CUSTOM, empty))["errcode"] == 44004
        odd = {"touser": "o1", "msgtype": "hologram", "hologram": {}}
        assert (await post(CUSTOM, odd))["errcode"] == 40008
        image = {"touser": "o1", "msgtype": "image", "image": {"media_id": "never-uploaded"}}
        assert (await post(CUSTOM, image))["errcode"] == 40007
        media = fake.store_media("image", "a.png", "image/png", PNG)
        fake.advance(3 * 86400 + 1)
        fake.open_window("o1")
        image["image"] = {"media_id": media.media_id}
        assert (await post(CUSTOM, image))["errcode"] == 40007  # expired after 3 days


class TestMedia:
    async def upload(
        self, api: TestClient, token: str, media_type: str, content: bytes
    ) -> dict[str, Any]:
        form = FormData()
        form.add_field("media", io.BytesIO(content), filename="upload.bin")
        params = {"access_token": token, "type": media_type}
        response = await api.post(UPLOAD, data=form, params=params)
        return dict(await response.json())

    @pytest.mark.parametrize(
        ("media_type", "content", "errcode"),
        [
            ("image", PNG, 0),
            ("image", JPEG, 0),
            ("image", b"GIF89a" + b"\x00" * 8, 0),
            ("image", b"%PDF-1.7", 40005),
            ("image", PNG + b"\x00" * (2 * 1024 * 1024), 40009),
            ("thumb", PNG, 40005),
            ("thumb", JPEG, 0),
            ("voice", b"#!AMR\n", 0),
            ("sticker", PNG, 40004),
        ],
    )
    async def test_upload_rules(
        self, api: TestClient, token: str, media_type: str, content: bytes, errcode: int
    ) -> None:
        answer = await self.upload(api, token, media_type, content)
        assert answer.get("errcode", 0) == errcode
        if not errcode:
            assert answer["type"] == media_type and answer["media_id"]

    async def test_upload_needs_the_media_field(self, post: Call) -> None:
        assert (await post(UPLOAD, {"file": "x"}, type="image"))["errcode"] == 41005


class TestHttpBehaviour:
    async def test_non_object_json_and_form_posts_are_refused(
        self, api: TestClient, post: Call, token: str
    ) -> None:
        assert (await post(CUSTOM, ["not", "an", "object"]))["errcode"] == 47001
        form = await api.post(CUSTOM, data={"touser": "o1"}, params={"access_token": token})
        assert (await form.json())["errcode"] == 47001

    async def test_injected_faults(self, api: TestClient, fake: FakeWeChat, token: str) -> None:
        params = {"access_token": token, "openid": "o1"}
        fake.inject("/cgi-bin/user/info", errcode=45011, times=2)
        fake.inject("/cgi-bin/user/info", status=502)
        for _ in range(2):
            answer = await (await api.get("/cgi-bin/user/info", params=params)).json()
            assert answer["errcode"] == 45011 and " rid: " in answer["errmsg"]
        assert (await api.get("/cgi-bin/user/info", params=params)).status == 502
        assert (await (await api.get("/cgi-bin/user/info", params=params)).json())["openid"]
        assert fake.calls["/cgi-bin/user/info"] == 4

    async def test_sent_listing(self, api: TestClient, post: Call, fake: FakeWeChat) -> None:
        fake.open_window("o1")
        await post(CUSTOM, {"touser": "o1", "msgtype": "text", "text": {"content": "积分 +10"}})
        listing = await (await api.get("/_fake/sent")).json()
        assert [(m["kind"], m["touser"], m["data"]) for m in listing] == [
            ("custom", "o1", {"content": "积分 +10"})
        ]
        assert "/_fake/sent" not in fake.calls

    async def test_wallet_listing(self, api: TestClient, fake: FakeWeChat) -> None:
        entry = WalletEntry("pCard1", "88000001", "o1", activated=True, bonus=42)
        entry.custom_fields[1] = "金卡会员"
        entry.updates.append({"bonus": 42})
        fake.wallet[("pCard1", "88000001")] = entry
        fake.wallet[("pCard1", "88000002")] = WalletEntry("pCard1", "88000002", "o2")
        listing = await (await api.get("/_fake/wallet", params={"openid": "o1"})).json()
        assert listing == [
            {
                "card_id": "pCard1",
                "code": "88000001",
                "activated": True,
                "deleted": False,
                "bonus": 42,
                "custom_fields": {"1": "金卡会员"},
                "activations": 0,
                "updates": 1,
            }
        ]
        assert await (await api.get("/_fake/wallet")).json() == []
        assert "/_fake/wallet" not in fake.calls

    async def test_mounted_under_a_prefix(
        self, aiohttp_client: Any, fake: FakeWeChat, appid: str, secret: str
    ) -> None:
        parent = web.Application()
        parent.add_subapp("/fake-wechat/", create_fake_wechat_app(fake))
        client: TestClient = await aiohttp_client(parent)
        fake.inject(STABLE, errcode=-1)
        path = "/fake-wechat" + STABLE
        busy = await (await client.post(path, json=stable_body(appid, secret))).json()
        assert busy["errcode"] == -1
        answer = await (await client.post(path, json=stable_body(appid, secret))).json()
        assert answer["access_token"]
        assert fake.calls[STABLE] == 2
