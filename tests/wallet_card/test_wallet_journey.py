"""A member's card in the WeChat wallet from end to end, as the parts meet in production: the
mini-program asks for the signed cardExt, WeChat adds the card and pushes `user_get_card`
(signed and encrypted), the sender activates it with the member's balance, points earned later
reach the wallet, a deleted card gets no more updates, and a card added again is activated
again with the balance of that moment."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers import points
from handlers.wallet_card.wallet_sync import send_due
from tests.support.wechat_push import OfficialPusher
from tests.wallet_card.wallet_kit import event_fields, live_card, member, push, wechat_card
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.wallet_card import HolderState, WalletCardHolder

OA_OPENID = "o-official-journey"


async def _add(
    client: TestClient, fake: FakeWeChat, pusher: OfficialPusher, headers: dict[str, str], at: int
) -> None:
    """What the member's phone does: `wx.addCard` with the service's cardExt, then WeChat's push."""
    answer = await wechat_card(client, headers)
    await push(pusher, fake.add_card(OA_OPENID, answer["card_id"], answer["card_ext"]), at)


async def _earn(services: Services, member_id: int, amount: int, key: str) -> None:
    await points.earn(services, member_id, amount, reason="checkin", idempotency_key=key)


async def test_added_activated_kept_in_step_deleted_and_added_again(
    client: TestClient,
    services: Services,
    fake_wechat: FakeWeChat,
    pusher: OfficialPusher,
    owner: dict[str, str],
) -> None:
    at = int(services.clock.now().timestamp())
    card_id = await live_card(client, owner, fake_wechat, pusher, at)
    headers, card_no = await member(client, fake_wechat)
    member_id = (await Member.get(card_no=card_no)).id
    await _earn(services, member_id, 30, "journey-1")  # before the card is in the wallet

    await _add(client, fake_wechat, pusher, headers, at + 1)
    assert (await send_due(services)).outcomes["activated"] == 1
    [entry] = fake_wechat.wallet_of(OA_OPENID)
    assert (entry.code, entry.activated, entry.membership_number) == (card_no, True, card_no)
    assert entry.bonus == 30
    assert (await wechat_card(client, headers))["activated"] is True

    await _earn(services, member_id, 12, "journey-2")
    await _earn(services, member_id, 8, "journey-3")
    assert (await send_due(services)).outcomes["sent"] == 1  # two changes, one call
    assert entry.bonus == 50 and len(entry.updates) == 1
    assert entry.updates[0]["record_bonus"] == "签到"

    fields = event_fields("user_del_card", OA_OPENID, card_id, card_no)
    fake_wechat.delete_card(OA_OPENID, card_id, card_no)
    await push(pusher, fields, at + 2)
    holder = await WalletCardHolder.get(member_id=member_id)
    assert holder.state is HolderState.DELETED
    await _earn(services, member_id, 5, "journey-4")
    assert (await send_due(services)).claimed == 0  # nothing sent to a deleted card
    assert len(entry.updates) == 1 and entry.bonus == 50

    await _add(client, fake_wechat, pusher, headers, at + 3)
    assert (await send_due(services)).outcomes["activated"] == 1
    [again] = [e for e in fake_wechat.wallet_of(OA_OPENID) if not e.deleted]
    assert again is not entry and again.activated and again.bonus == 55
    assert (await send_due(services)).claimed == 0  # in step: nothing left to send
