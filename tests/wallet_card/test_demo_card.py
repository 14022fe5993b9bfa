"""The demo's member card: defined once by the owner, created and approved at each start's fake
WeChat, so a member can add it at once; the demo's pushes of wallet events reach the webhook."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.support.settings import MINIAPP_APPID, MINIAPP_SECRET, OFFICIAL_APPID, OFFICIAL_SECRET
from tests.wallet_card.wallet_kit import member, wechat_card
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.fake_wechat.cards import VERIFY_OK
from wxmember.core.models import AuditEntry
from wxmember.core.models.wallet_card import HolderState, WalletCard, WalletCardHolder
from wxmember.demo.wallet_card import official_push, seed


def restarted() -> FakeWeChat:
    """The fake WeChat of a new start of the demo: it remembers nothing."""
    fake = FakeWeChat()
    fake.register_app(MINIAPP_APPID, MINIAPP_SECRET)
    fake.register_app(OFFICIAL_APPID, OFFICIAL_SECRET)
    return fake


class TestDemoCard:
    async def test_each_start_makes_the_card_live_at_its_fake_and_defines_it_once(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await seed(services, fake_wechat)
        first = await WalletCard.get(id=1)
        assert first.review_state == "approved" and first.synced_version == first.version
        assert fake_wechat.cards[str(first.card_id)].status == VERIFY_OK
        assert first.logo_url in fake_wechat.card_images
        again = restarted()
        await seed(services, again)
        second = await WalletCard.get(id=1)
        assert second.card_id != first.card_id and second.review_state == "approved"
        assert again.cards[str(second.card_id)].status == VERIFY_OK
        assert await AuditEntry.filter(action="wallet_card.replace").count() == 1

    async def test_a_member_adds_the_demo_card_and_the_demo_s_push_is_taken(
        self, client: TestClient, config: Config, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await seed(services, fake_wechat)
        headers, card_no = await member(client, fake_wechat)
        answer = await wechat_card(client, headers)
        event = fake_wechat.add_card("o-demo-official", answer["card_id"], answer["card_ext"])
        body, query = official_push(config, event)
        response = await client.post("/wechat/official", params=query, data=body.encode())
        assert (response.status, await response.text()) == (200, "success")
        holder = await WalletCardHolder.get(code=card_no)
        assert (holder.state, holder.official_openid) == (HolderState.HELD, "o-demo-official")
