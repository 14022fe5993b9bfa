"""WeChatClient against the fake WeChat server: tokens, retries, errors and every endpoint."""

from __future__ import annotations

import asyncio
import json
import socket
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.wechat import (
    ERROR_CLASSES,
    NETWORK_ERRCODE,
    WeChatBusy,
    WeChatClient,
    WeChatCodeError,
    WeChatConfigError,
    WeChatError,
    WeChatInvalidArgument,
    WeChatNetworkError,
    WeChatRateLimited,
    WeChatRecipientUnavailable,
    WeChatSubscribeRefused,
    WeChatTokenError,
    error_for,
)

USER_INFO = "/cgi-bin/user/info"
STABLE = "/cgi-bin/stable_token"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
GOOD_DATA = {"thing1": "积分即将过期", "number2": "120", "date3": "2024-06-30", "phrase4": "请尽快"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SUB_TEMPLATE = "SUB-tpl-points-expiry"
OA_TEMPLATE = "OA-tpl-birthday"

ClientFactory = Callable[..., WeChatClient]
RedisFactory = Callable[[], aioredis.Redis]


@pytest.fixture(autouse=True)
def templates(fake: FakeWeChat) -> None:
    fake.register_subscribe_template(SUB_TEMPLATE, list(GOOD_DATA))
    fake.register_template(OA_TEMPLATE, ["thing1", "time2"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestAccessToken:
    async def test_fifty_concurrent_calls_on_a_cold_cache_fetch_one_token(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        results = await asyncio.gather(*(wechat.get_user_info(f"o{i}") for i in range(50)))
        assert len(results) == 50
        assert fake.token_requests == 1
        assert fake.calls[USER_INFO] == 50

    async def test_two_processes_sharing_redis_fetch_one_token(
        self, make_client: ClientFactory, redis_factory: RedisFactory, fake: FakeWeChat
    ) -> None:
        first, second = make_client(redis=redis_factory()), make_client(redis=redis_factory())
        calls = [c.get_user_info("o1") for c in (first, second) for _ in range(25)]
        await asyncio.gather(*calls)
        assert fake.token_requests == 1
        assert await first.access_token() == await second.access_token()

    async def test_token_is_cached_with_a_ttl_below_its_lifetime(
        self, wechat: WeChatClient, redis: aioredis.Redis, token_key: str
    ) -> None:
        token = await wechat.access_token()
        assert await redis.get(token_key) == token.encode()
        assert 6800 <= await redis.ttl(token_key) <= 6900
        assert not await redis.exists(f"{token_key}:lock")

    async def test_expired_token_is_refreshed_once_and_the_call_retried(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        old = await wechat.access_token()
        fake.expire_tokens()
        await asyncio.gather(*(wechat.get_user_info("o1") for _ in range(20)))
        assert fake.token_requests == 2
        assert await wechat.access_token() != old
        assert fake.forced_refreshes.get(wechat.appid) is None  # normal mode already gave a new one

    async def test_revoked_token_is_replaced(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        fake.revoke_token(await wechat.access_token())
        assert (await wechat.get_user_info("o1"))["subscribe"] == 0
        assert fake.token_requests == 2

    async def test_force_refresh_when_the_server_returns_the_rejected_token(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        old = await wechat.access_token()
        fake.inject(USER_INFO, errcode=40001)
        await wechat.get_user_info("o1")
        assert fake.calls[STABLE] == 3  # initial, normal (same token back), forced
        assert len(fake.forced_refreshes[wechat.appid]) == 1
        assert await wechat.access_token() != old

    async def test_second_token_error_is_raised_not_looped(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.inject(USER_INFO, errcode=42001, times=5)
        with pytest.raises(WeChatTokenError) as info:
            await wechat.get_user_info("o1")
        assert info.value.errcode == 42001
        assert fake.calls[USER_INFO] == 2

    async def test_token_endpoint_failure_is_shared_by_all_waiters(
        self, make_client: ClientFactory, fake: FakeWeChat
    ) -> None:
        client = make_client(secret="wrong-secret")
        results = await asyncio.gather(
            *(client.get_user_info("o1") for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, WeChatConfigError) and r.errcode == 40125 for r in results)
        assert fake.token_requests == 1

    async def test_waits_for_another_process_holding_the_lock(
        self, wechat: WeChatClient, redis: aioredis.Redis, fake: FakeWeChat, token_key: str
    ) -> None:
        lock_key = f"{token_key}:lock"
        await redis.set(lock_key, "another-process", px=300)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wechat.access_token()
        assert loop.time() - started >= 0.2  # waited for the holder's lock to lapse
        assert fake.token_requests == 1

    async def test_token_written_by_another_process_is_used(
        self, wechat: WeChatClient, redis: aioredis.Redis, fake: FakeWeChat, token_key: str
    ) -> None:
        lock_key = f"{token_key}:lock"
        await redis.set(lock_key, "another-process", px=5000)
        task = asyncio.create_task(wechat.access_token())
        await asyncio.sleep(0.1)
        await redis.set(token_key, "token-from-elsewhere", ex=60)
        assert await task == "token-from-elsewhere"
        assert fake.token_requests == 0
        assert await redis.get(lock_key) == b"another-process"  # not ours, left alone


class TestErrors:
    @pytest.mark.parametrize(("errcode", "cls"), sorted(ERROR_CLASSES.items()))
    async def test_each_errcode_is_raised_as_its_class(
        self, make_client: ClientFactory, fake: FakeWeChat, errcode: int, cls: type[WeChatError]
    ) -> None:
        client = make_client(network_retries=0)
        await client.access_token()
        fake.inject(USER_INFO, errcode=errcode, times=2)
        with pytest.raises(cls) as info:
            await client.get_user_info("o1")
        assert type(info.value) is cls
        assert info.value.errcode == errcode
        assert info.value.endpoint == USER_INFO
        assert " rid: " in info.value.errmsg

    def test_unknown_errcode_is_a_plain_wechat_error(self) -> None:
        error = error_for(99999, "something new", "/x")
        assert type(error) is WeChatError
        assert str(error) == "/x: errcode 99999: something new"

    def test_transient_flags(self) -> None:
        assert WeChatBusy.transient and WeChatRateLimited.transient
        assert WeChatNetworkError.transient
        assert not WeChatInvalidArgument.transient and not WeChatSubscribeRefused.transient


class TestRetries:
    async def test_502_then_success_is_retried(
        self, make_client: ClientFactory, fake: FakeWeChat
    ) -> None:
        seen: list[tuple[str, int]] = []
        client = make_client(on_call=lambda endpoint, errcode: seen.append((endpoint, errcode)))
        fake.inject(USER_INFO, status=502)
        assert (await client.get_user_info("o1"))["openid"] == "o1"
        assert seen == [(STABLE, 0), (USER_INFO, NETWORK_ERRCODE), (USER_INFO, 0)]

    async def test_persistent_5xx_gives_a_network_error(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.inject(USER_INFO, status=503, times=10)
        with pytest.raises(WeChatNetworkError) as info:
            await wechat.get_user_info("o1")
        assert info.value.status == 503
        assert fake.calls[USER_INFO] == 3  # first try and network_retries=2

    async def test_non_json_body_is_retried(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        fake.inject(USER_INFO, status=200)  # an HTML page with status 200
        await wechat.get_user_info("o1")
        assert fake.calls[USER_INFO] == 2

    async def test_busy_then_success_is_retried(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.grant_subscription("o1", SUB_TEMPLATE)
        fake.inject(SUBSCRIBE, errcode=-1)
        await wechat.send_subscribe_message("o1", SUB_TEMPLATE, GOOD_DATA)
        assert fake.calls[SUBSCRIBE] == 2
        assert len(fake.sent) == 1

    async def test_busy_until_retries_run_out_is_raised(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.inject(USER_INFO, errcode=-1, times=3)
        with pytest.raises(WeChatBusy):
            await wechat.get_user_info("o1")

    @pytest.mark.parametrize("grant", [True, False])
    async def test_business_errors_are_not_retried(
        self, wechat: WeChatClient, fake: FakeWeChat, grant: bool
    ) -> None:
        if grant:
            fake.grant_subscription("o1", SUB_TEMPLATE)
        data = {**GOOD_DATA, "thing1": "x" * 21} if grant else GOOD_DATA
        expected = WeChatInvalidArgument if grant else WeChatSubscribeRefused
        with pytest.raises(expected):
            await wechat.send_subscribe_message("o1", SUB_TEMPLATE, data)
        assert fake.calls[SUBSCRIBE] == 1

    async def test_read_timeout_is_retried_for_a_lookup(
        self, make_client: ClientFactory, fake: FakeWeChat
    ) -> None:
        client = make_client(timeout=0.3)
        await client.access_token()
        fake.inject(USER_INFO, delay=1.0)
        await client.get_user_info("o1")
        assert fake.calls[USER_INFO] == 2

    async def test_send_is_not_retried_after_a_read_timeout(
        self, make_client: ClientFactory, fake: FakeWeChat
    ) -> None:
        client = make_client(timeout=0.3)
        await client.access_token()
        fake.grant_subscription("o1", SUB_TEMPLATE, count=2)
        fake.inject(SUBSCRIBE, delay=0.8)
        with pytest.raises(WeChatNetworkError):
            await client.send_subscribe_message("o1", SUB_TEMPLATE, GOOD_DATA)
        assert fake.calls[SUBSCRIBE] == 1
        for _ in range(100):  # the slow request still delivers: a retry would double-send
            if fake.sent:
                break
            await asyncio.sleep(0.02)
        assert len(fake.sent) == 1

    async def test_send_is_retried_when_the_connection_never_opened(
        self, make_client: ClientFactory, redis: aioredis.Redis, token_key: str
    ) -> None:
        seen: list[tuple[str, int]] = []
        client = make_client(
            api_base=f"http://127.0.0.1:{closed_port()}",
            on_call=lambda endpoint, errcode: seen.append((endpoint, errcode)),
        )
        await redis.set(token_key, "cached-token", ex=60)
        with pytest.raises(WeChatNetworkError):
            await client.send_custom_text("o1", "hello")
        assert seen == [("/cgi-bin/message/custom/send", NETWORK_ERRCODE)] * 3


class TestSecrecy:
    def test_repr_shows_the_appid_only(self, wechat: WeChatClient, secret: str) -> None:
        assert repr(wechat).startswith(f"WeChatClient(appid={wechat.appid!r}")
        assert secret not in repr(wechat)
        assert secret not in repr(vars(wechat))

    async def test_network_errors_do_not_leak_the_secret(
        self, make_client: ClientFactory, caplog: pytest.LogCaptureFixture, secret: str
    ) -> None:
        caplog.set_level("DEBUG")
        client = make_client(api_base=f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(WeChatNetworkError) as info:
            await client.code2session("any-code")
        rendered = "".join(traceback.format_exception(info.value))
        assert secret not in rendered and secret not in repr(info.value)
        assert secret not in caplog.text

    async def test_config_errors_do_not_leak_the_secret(
        self, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("DEBUG")
        wrong = "wrong-secret-1f2e3d4c"
        with pytest.raises(WeChatConfigError) as info:
            await make_client(secret=wrong).access_token()
        assert wrong not in "".join(traceback.format_exception(info.value))
        assert wrong not in caplog.text


class TestLogin:
    async def test_code2session(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        code = fake.issue_login_code("o-mini-1", unionid="u-1", session_key="c2Vzc2lvbg==")
        result = await wechat.code2session(code)
        assert result == {"openid": "o-mini-1", "session_key": "c2Vzc2lvbg==", "unionid": "u-1"}
        assert fake.token_requests == 0

    async def test_code2session_without_unionid(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        result = await wechat.code2session(fake.issue_login_code("o-mini-2"))
        assert "unionid" not in result and result["openid"] == "o-mini-2"

    async def test_unknown_code(self, wechat: WeChatClient) -> None:
        with pytest.raises(WeChatCodeError) as info:
            await wechat.code2session("never-issued")
        assert info.value.errcode == 40029

    async def test_used_code(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        code = fake.issue_login_code("o-mini-3")
        await wechat.code2session(code)
        with pytest.raises(WeChatCodeError) as info:
            await wechat.code2session(code)
        assert info.value.errcode == 40163

    async def test_phone_number(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        info = await wechat.get_phone_number(fake.issue_phone_code("13800138000"))
        assert info["purePhoneNumber"] == "13800138000"
        assert info["phoneNumber"] == "13800138000"
        assert info["countryCode"] == 86
        assert info["watermark"]["appid"] == wechat.appid

    async def test_phone_code_is_single_use(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        code = fake.issue_phone_code("13800138000")
        await wechat.get_phone_number(code, openid="o1")
        with pytest.raises(WeChatCodeError):
            await wechat.get_phone_number(code)


class TestMessages:
    async def test_subscribe_message_spends_a_grant(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.grant_subscription("o1", SUB_TEMPLATE)
        result = await wechat.send_subscribe_message(
            "o1", SUB_TEMPLATE, GOOD_DATA, page="pages/points/index", miniprogram_state="trial"
        )
        assert "msgid" in result
        [sent] = fake.sent
        assert (sent.kind, sent.touser, sent.template_id) == ("subscribe", "o1", SUB_TEMPLATE)
        assert sent.data == GOOD_DATA
        assert sent.extra == {"page": "pages/points/index", "miniprogram_state": "trial"}
        with pytest.raises(WeChatSubscribeRefused) as info:
            await wechat.send_subscribe_message("o1", SUB_TEMPLATE, GOOD_DATA)
        assert info.value.errcode == 43101

    async def test_subscribe_message_with_a_bad_value(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        fake.grant_subscription("o1", SUB_TEMPLATE)
        with pytest.raises(WeChatInvalidArgument) as info:
            await wechat.send_subscribe_message("o1", SUB_TEMPLATE, {**GOOD_DATA, "phrase4": "ok"})
        assert info.value.errcode == 47003
        assert "data.phrase4.value invalid" in info.value.errmsg
        assert fake.grants[("o1", SUB_TEMPLATE)] == 1  # not spent

    async def test_template_message(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        fake.add_follower("o1")
        data = {"thing1": "生日快乐", "time2": "2024-06-01 10:00"}
        first = await wechat.send_template_message(
            "o1",
            OA_TEMPLATE,
            data,
            miniprogram={"appid": "wxmini", "pagepath": "pages/i"},
            client_msg_id="birthday-2024-o1",
        )
        again = await wechat.send_template_message(
            "o1", OA_TEMPLATE, data, client_msg_id="birthday-2024-o1"
        )
        assert first["msgid"] == again["msgid"]
        assert len(fake.sent) == 1

    async def test_template_message_to_a_non_follower(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        with pytest.raises(WeChatRecipientUnavailable) as info:
            await wechat.send_template_message("o-stranger", OA_TEMPLATE, {"thing1": "hi"})
        assert info.value.errcode == 43004

    async def test_custom_message_window(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        with pytest.raises(WeChatRecipientUnavailable) as closed:
            await wechat.send_custom_text("o1", "你好")
        assert closed.value.errcode == 45015
        fake.open_window("o1")
        for i in range(5):
            await wechat.send_custom_text("o1", f"消息 {i}")
        with pytest.raises(WeChatRateLimited) as spent:
            await wechat.send_custom_text("o1", "one too many")
        assert spent.value.errcode == 45047
        assert [m.data["content"] for m in fake.sent][:2] == ["消息 0", "消息 1"]

    async def test_uploaded_image_can_be_sent(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        uploaded = await wechat.upload_media("image", "card.png", PNG, "image/png")
        assert uploaded["type"] == "image" and isinstance(uploaded["created_at"], int)
        assert fake.media[uploaded["media_id"]].content == PNG
        fake.open_window("o1")
        await wechat.send_custom_image("o1", uploaded["media_id"])
        [sent] = fake.sent
        assert sent.extra == {"msgtype": "image"}
        assert sent.data == {"media_id": uploaded["media_id"]}

    async def test_upload_of_a_non_image(self, wechat: WeChatClient) -> None:
        with pytest.raises(WeChatInvalidArgument) as info:
            await wechat.upload_media("image", "card.txt", b"plain text", "text/plain")
        assert info.value.errcode == 40005

    async def test_user_info(self, wechat: WeChatClient, fake: FakeWeChat) -> None:
        fake.add_follower("o-oa-1", unionid="u-1")
        assert await wechat.get_user_info("o-oa-1") == {
            "subscribe": 1,
            "openid": "o-oa-1",
            "language": "zh_CN",
            "unionid": "u-1",
        }
        assert await wechat.get_user_info("o-oa-2") == {"subscribe": 0, "openid": "o-oa-2"}


async def test_json_bodies_are_utf8_without_escapes(
    aiohttp_server: Any, make_client: ClientFactory, redis: aioredis.Redis, token_key: str
) -> None:
    bodies: list[bytes] = []

    async def capture(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/cgi-bin/message/custom/send", capture)
    server: TestServer = await aiohttp_server(app)
    client = make_client(api_base=f"http://{server.host}:{server.port}")
    await redis.set(token_key, "cached-token", ex=60)
    await client.send_custom_text("o1", "会员积分")
    assert "会员积分".encode() in bodies[0]
    assert json.loads(bodies[0]) == {
        "touser": "o1",
        "msgtype": "text",
        "text": {"content": "会员积分"},
    }
