"""WeChat's review of the member card, pushed to the Official Account webhook: signed plain
pushes and encrypted (safe mode) pushes set approved, or rejected with WeChat's reason; an event
about a card that is not ours changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support.wechat_push import OfficialPusher
from tests.wallet_card.conftest import API, DEFINITION, defined_card
from tests.wallet_card.kit import review_event_xml
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat


async def _submitted(client: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    response = await defined_card(client, owner)
    assert response.status == 200, await response.text()
    shown: dict[str, Any] = await response.json()
    assert shown["review_state"] == "submitted"
    return shown


async def _push(
    pusher: OfficialPusher, services: Services, fields: dict[str, str], *, encrypt: bool
) -> None:
    at = int(services.clock.now().timestamp())
    reply = await pusher.send(review_event_xml(fields, at), encrypt=encrypt)
    assert reply.is_success, (reply.status, reply.body)


async def _shown(client: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    shown: dict[str, Any] = await (await client.get(API, headers=owner)).json()
    return shown


class TestSafeMode:
    async def test_an_encrypted_pass_approves_the_card(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        event = fake_wechat.review_card(card["card_id"], approved=True)
        await _push(pusher, services, event, encrypt=True)
        shown = await _shown(client, owner)
        assert shown["review_state"] == "approved" and shown["refuse_reason"] is None
        assert shown["reviewed_at"] is not None

    async def test_an_encrypted_refusal_keeps_wechat_s_reason(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        event = fake_wechat.review_card(card["card_id"], approved=False, reason="logo图片模糊")
        await _push(pusher, services, event, encrypt=True)
        shown = await _shown(client, owner)
        assert shown["review_state"] == "rejected" and shown["refuse_reason"] == "logo图片模糊"

    async def test_a_plaintext_push_is_refused_in_safe_mode(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        event = fake_wechat.review_card(card["card_id"], approved=True)
        at = int(services.clock.now().timestamp())
        reply = await pusher.send(review_event_xml(event, at), encrypt=False)
        assert reply.status == 400
        assert (await _shown(client, owner))["review_state"] == "submitted"

    async def test_a_resubmitted_card_after_a_refusal_is_approved_on_the_next_pass(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        refused = fake_wechat.review_card(card["card_id"], approved=False, reason="标题不规范")
        await _push(pusher, services, refused, encrypt=True)
        again = await client.put(API, json=DEFINITION | {"title": "品牌会员卡"}, headers=owner)
        assert (await again.json())["review_state"] == "submitted"
        passed = fake_wechat.review_card(card["card_id"], approved=True)
        await _push(pusher, services, passed, encrypt=True)
        assert (await _shown(client, owner))["review_state"] == "approved"

    async def test_an_event_about_another_card_is_ignored_and_logged(
        self,
        client: TestClient,
        owner: dict[str, str],
        pusher: OfficialPusher,
        services: Services,
        log_lines: Any,
    ) -> None:
        await _submitted(client, owner)
        event = {"Event": "card_pass_check", "CardId": "pSomeoneElsesCard"}
        await _push(pusher, services, event, encrypt=True)
        assert (await _shown(client, owner))["review_state"] == "submitted"
        assert "card review event for an unknown card ignored" in log_lines()


class TestPlainMode:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["official"] = {**settings["official"], "mode": "plain"}
        return settings

    async def test_a_signed_pass_approves_and_a_signed_refusal_rejects(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        refused = fake_wechat.review_card(card["card_id"], approved=False, reason="资质不全")
        await _push(pusher, services, refused, encrypt=False)
        shown = await _shown(client, owner)
        assert shown["review_state"] == "rejected" and shown["refuse_reason"] == "资质不全"
        passed = fake_wechat.review_card(card["card_id"], approved=True)
        await _push(pusher, services, passed, encrypt=False)
        assert (await _shown(client, owner))["review_state"] == "approved"

    async def test_a_push_with_a_bad_signature_changes_nothing(
        self,
        client: TestClient,
        owner: dict[str, str],
        fake_wechat: FakeWeChat,
        pusher: OfficialPusher,
        services: Services,
    ) -> None:
        card = await _submitted(client, owner)
        event = fake_wechat.review_card(card["card_id"], approved=True)
        query = pusher.query() | {"signature": "0" * 40}
        reply = await pusher.post(
            review_event_xml(event, int(services.clock.now().timestamp())), query
        )
        assert reply.status == 403
        assert (await _shown(client, owner))["review_state"] == "submitted"
