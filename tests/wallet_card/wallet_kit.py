"""Builders for the wallet tests: a live card, a member holding a card number, what the
mini-program gets for `wx.addCard`, and the events WeChat pushes about the wallet."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.members.flows import cardholder, seed_tiers
from tests.support.wechat_push import OfficialPusher, PushReply, push_xml
from tests.wallet_card.conftest import defined_card
from tests.wallet_card.kit import review_event_xml
from wxmember.core.fake_wechat import FakeWeChat

WECHAT_CARD = "/api/v1/card/wechat-card"
TICKET = "/cgi-bin/ticket/getticket"


def sorted_sha1(*values: str) -> str:
    """WeChat's card signature, computed here apart from the service: sorted, joined, SHA1."""
    return hashlib.sha1("".join(sorted(values)).encode()).hexdigest()


async def submitted_card(client: TestClient, owner: dict[str, str]) -> str:
    """The brand's card created at WeChat and waiting in review: its card id."""
    response = await defined_card(client, owner)
    assert response.status == 200, await response.text()
    shown = await response.json()
    assert shown["review_state"] == "submitted"
    return str(shown["card_id"])


async def live_card(
    client: TestClient, owner: dict[str, str], fake: FakeWeChat, pusher: OfficialPusher, at: int
) -> str:
    """The brand's card created and approved (WeChat's `card_pass_check` pushed): its card id."""
    card_id = await submitted_card(client, owner)
    reply = await pusher.send(review_event_xml(fake.review_card(card_id, approved=True), at))
    assert reply.is_success, (reply.status, reply.body)
    return card_id


async def member(
    client: TestClient, fake: FakeWeChat, openid: str = "o-member-1"
) -> tuple[dict[str, str], str]:
    """A logged-in member with an open card: headers, card number."""
    await seed_tiers()
    headers, card = await cardholder(client, fake, openid)
    return headers, str(card["card_no"])


async def wechat_card(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(WECHAT_CARD, headers=headers)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


def wallet_xml(fields: dict[str, str], at: int) -> str:
    """The push WeChat sends the Official Account about a card in `FromUserName`'s wallet."""
    fields = dict(fields)
    openid = fields.pop("FromUserName")
    return push_xml(openid, "event", at, **fields)


def event_fields(event: str, openid: str, card_id: str, code: str, **extra: str) -> dict[str, str]:
    return {
        "Event": event,
        "CardId": card_id,
        "UserCardCode": code,
        "FromUserName": openid,
        **extra,
    }


async def push(pusher: OfficialPusher, fields: dict[str, str], at: int) -> PushReply:
    """Sign, encrypt (the config's safe mode) and post a wallet event; it must be `success`."""
    reply = await pusher.send(wallet_xml(fields, at))
    assert reply.is_success, (reply.status, reply.body)
    return reply


def ext_of(answer: dict[str, Any]) -> dict[str, str]:
    ext: dict[str, str] = json.loads(answer["card_ext"])
    return ext
