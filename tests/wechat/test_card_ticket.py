"""The `wx_card` API ticket: fetched once for many callers and processes, cached in Redis a little
short of its lifetime, fetched again only when the cache has let it go; a token WeChat refuses
while the ticket is fetched is renewed on the way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.support.settings import OFFICIAL_APPID, OFFICIAL_SECRET
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.wechat import WeChatClient, WeChatInvalidArgument, WeChatNetworkError

TICKET = "/cgi-bin/ticket/getticket"
ClientFactory = Callable[..., WeChatClient]
RedisFactory = Callable[[], aioredis.Redis]


def ticket_key(appid: str) -> str:
    return f"wxmember:wechat:ticket:wx_card:{appid}"


class TestCardTicket:
    async def test_the_ticket_is_the_one_the_fake_issued_and_is_cached_below_its_lifetime(
        self, wechat: WeChatClient, fake: FakeWeChat, redis: aioredis.Redis, appid: str
    ) -> None:
        ticket = await wechat.card_api_ticket()
        assert ticket == fake.card_ticket(appid)
        assert await redis.get(ticket_key(appid)) == ticket.encode()
        assert 6800 <= await redis.ttl(ticket_key(appid)) <= 6900
        assert not await redis.exists(f"{ticket_key(appid)}:lock")
        assert await wechat.card_api_ticket() == ticket
        assert fake.calls[TICKET] == 1

    async def test_fifty_concurrent_callers_on_a_cold_cache_fetch_one_ticket(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        tickets = await asyncio.gather(*(wechat.card_api_ticket() for _ in range(50)))
        assert len(set(tickets)) == 1
        assert fake.calls[TICKET] == 1
        assert fake.token_requests == 1

    async def test_two_processes_sharing_redis_fetch_one_ticket(
        self, make_client: ClientFactory, redis_factory: RedisFactory, fake: FakeWeChat
    ) -> None:
        first, second = make_client(redis=redis_factory()), make_client(redis=redis_factory())
        calls = [c.card_api_ticket() for c in (first, second) for _ in range(25)]
        assert len(set(await asyncio.gather(*calls))) == 1
        assert fake.calls[TICKET] == 1

    async def test_a_ticket_the_cache_let_go_is_fetched_again(
        self, wechat: WeChatClient, fake: FakeWeChat, redis: aioredis.Redis, appid: str
    ) -> None:
        first = await wechat.card_api_ticket()
        await redis.delete(ticket_key(appid))  # what its TTL does ~5 minutes before expiry
        second = await wechat.card_api_ticket()
        assert second != first and second == fake.card_ticket(appid)
        assert fake.calls[TICKET] == 2

    async def test_an_expired_token_is_renewed_while_the_ticket_is_fetched(
        self, wechat: WeChatClient, fake: FakeWeChat
    ) -> None:
        await wechat.access_token()
        fake.expire_tokens()
        assert await wechat.card_api_ticket()
        assert fake.calls[TICKET] == 2  # 42001, then the same call with the new token
        assert fake.token_requests == 2

    async def test_a_ticket_is_per_appid(
        self, make_client: ClientFactory, fake: FakeWeChat, appid: str
    ) -> None:
        ours = await make_client().card_api_ticket()
        other = await make_client(appid=OFFICIAL_APPID, secret=OFFICIAL_SECRET).card_api_ticket()
        assert ours != other
        assert (fake.card_ticket(appid), fake.card_ticket(OFFICIAL_APPID)) == (ours, other)

    async def test_wechat_down_is_a_network_error_and_nothing_is_cached(
        self, wechat: WeChatClient, fake: FakeWeChat, redis: aioredis.Redis, appid: str
    ) -> None:
        await wechat.access_token()
        fake.inject(TICKET, status=502, times=3)
        with pytest.raises(WeChatNetworkError) as refused:
            await wechat.card_api_ticket()
        assert refused.value.endpoint == TICKET
        assert not await redis.exists(ticket_key(appid))
        assert await wechat.card_api_ticket() == fake.card_ticket(appid)


class TestFakeTicketEndpoint:
    async def test_an_unknown_type_is_refused(self, wechat: WeChatClient) -> None:
        with pytest.raises(WeChatInvalidArgument) as refused:
            await wechat._call("GET", TICKET, params={"type": "wx_coupon"})
        assert refused.value.errcode == 40097
