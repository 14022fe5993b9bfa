"""The member card for staff: saving the definition, the logo, sending it to WeChat, the roles,
the refusals with their stable codes, a failed sending kept and sent again, the audit log."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.wallet_card.conftest import API, DEFINITION, defined_card, upload_logo
from tests.wallet_card.kit import MINIAPP_ORIGINAL_ID
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import AuditEntry
from wxmember.core.models.wallet_card import WalletCard


class TestDefinition:
    async def test_never_saved_it_is_a_draft_at_version_0(
        self, client: TestClient, owner: dict[str, str]
    ) -> None:
        response = await client.get(API, headers=owner)
        assert response.status == 200
        shown = await response.json()
        assert shown["version"] == 0 and shown["review_state"] == "draft"
        assert shown["card_id"] is None and shown["in_sync"] is False

    async def test_saved_without_a_logo_it_stays_a_draft_and_nothing_is_sent(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        response = await client.put(API, json=DEFINITION, headers=owner)
        assert response.status == 200, await response.text()
        shown = await response.json()
        assert shown["title"] == "测试会员卡" and shown["color_hex"] == "#509fc9"
        assert shown["version"] == 1 and shown["review_state"] == "draft"
        assert fake_wechat.calls["/card/create"] == 0
        audit = await AuditEntry.get(action="wallet_card.replace")
        assert audit.before is None and audit.after is not None
        assert audit.after["title"] == "测试会员卡" and audit.target_id == "1"

    async def test_with_a_logo_the_card_is_created_at_wechat_and_submitted(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        response = await defined_card(client, owner)
        assert response.status == 200, await response.text()
        shown = await response.json()
        assert shown["review_state"] == "submitted" and shown["in_sync"] is True
        card = fake_wechat.cards[shown["card_id"]]
        base_info = card.member_card["base_info"]
        assert base_info["brand_name"] == "测试品牌" and base_info["color"] == "Color030"
        assert base_info["logo_url"] == shown["logo_url"]
        assert base_info["center_app_brand_user_name"] == f"{MINIAPP_ORIGINAL_ID}@app"
        assert card.member_card["custom_field1"] == {"name_type": "FIELD_NAME_TYPE_LEVEL"}
        assert "custom_field2" not in card.member_card
        assert await AuditEntry.filter(action="wallet_card.logo").count() == 1

    async def test_a_second_save_updates_the_same_card(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        first = await (await defined_card(client, owner)).json()
        fake_wechat.review_card(first["card_id"], approved=True)
        response = await client.put(API, json=DEFINITION | {"notice": "到店出示"}, headers=owner)
        assert response.status == 200, await response.text()
        shown = await response.json()
        assert shown["card_id"] == first["card_id"] and len(fake_wechat.cards) == 1
        assert fake_wechat.calls["/card/update"] == 1
        assert fake_wechat.cards[shown["card_id"]].member_card["base_info"]["notice"] == "到店出示"
        assert shown["version"] == first["version"] + 1 == shown["synced_version"]
        assert await AuditEntry.filter(action="wallet_card.replace").count() == 2
        outcomes: list[Any] = await AuditEntry.filter(action="wallet_card.send").values_list(
            "after", flat=True
        )
        assert [after["outcome"] for after in outcomes] == ["created", "updated"]

    async def test_an_operator_may_too(self, client: TestClient, login_as: StaffLogin) -> None:
        operator = await login_as("operator")
        assert (await client.put(API, json=DEFINITION, headers=operator)).status == 200


class TestRoles:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", ""), ("PUT", ""), ("POST", "/sync"), ("POST", "/logo")],
    )
    async def test_a_cashier_is_refused(
        self, client: TestClient, login_as: StaffLogin, method: str, path: str
    ) -> None:
        cashier = await login_as("cashier")
        response = await client.request(method, API + path, json=DEFINITION, headers=cashier)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "role_not_allowed"
        assert await WalletCard.all().count() == 0

    async def test_without_a_session_it_is_401(self, client: TestClient) -> None:
        assert (await client.get(API)).status == 401


class TestValidation:
    @pytest.mark.parametrize(
        ("changes", "code"),
        [
            ({"title": "十个汉字的会员卡名称"}, "invalid_title"),
            ({"title": "A" * 19}, "invalid_title"),
            ({"title": " "}, "invalid_title"),
            ({"color": "Color999"}, "invalid_color"),
            ({"color": "#63b359"}, "invalid_color"),
            ({"notice": "通知" * 9}, "invalid_notice"),
            ({"show_tier": "yes"}, "invalid_show_tier"),
            ({"card_id": "pMine"}, "invalid_card_id"),
        ],
    )
    async def test_a_bad_field_is_refused_by_name_and_nothing_saved(
        self, client: TestClient, owner: dict[str, str], changes: dict[str, object], code: str
    ) -> None:
        response = await client.put(API, json=DEFINITION | changes, headers=owner)
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["code"] == code
        assert await WalletCard.all().count() == 0
        assert await AuditEntry.filter(action="wallet_card.replace").count() == 0

    @pytest.mark.parametrize("content", [b"GIF89a-not-taken", b"plain text"])
    async def test_a_logo_that_is_not_png_or_jpeg_is_invalid_logo(
        self, client: TestClient, owner: dict[str, str], content: bytes, fake_wechat: FakeWeChat
    ) -> None:
        response = await upload_logo(client, owner, content)
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_logo"
        assert fake_wechat.calls["/cgi-bin/media/uploadimg"] == 0

    async def test_a_logo_over_512_kb_is_413(
        self, client: TestClient, owner: dict[str, str]
    ) -> None:
        big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (512 * 1024)
        response = await upload_logo(client, owner, big)
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "logo_too_large"

    async def test_text_that_is_not_base64_is_invalid_logo(
        self, client: TestClient, owner: dict[str, str]
    ) -> None:
        body = {"content_base64": "not base64!", "filename": "logo.png"}
        response = await client.post(f"{API}/logo", json=body, headers=owner)
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_logo"

    async def test_sending_before_saving_is_409(
        self, client: TestClient, owner: dict[str, str]
    ) -> None:
        response = await client.post(f"{API}/sync", headers=owner)
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "wallet_card_not_defined"

    async def test_sending_without_a_logo_is_409(
        self, client: TestClient, owner: dict[str, str]
    ) -> None:
        await client.put(API, json=DEFINITION, headers=owner)
        response = await client.post(f"{API}/sync", headers=owner)
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "wallet_card_logo_missing"


class TestWeChatFailing:
    async def test_no_answer_is_503_the_error_is_kept_and_sending_again_creates_the_card(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject("/card/create", status=502)
        response = await defined_card(client, owner)
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "wechat_unavailable"
        kept = await (await client.get(API, headers=owner)).json()
        assert kept["version"] == 2 and kept["card_id"] is None and kept["in_sync"] is False
        assert "/card/create" in kept["sync_error"] and kept["review_state"] == "draft"
        retried = await client.post(f"{API}/sync", headers=owner)
        assert retried.status == 200, await retried.text()
        shown = await retried.json()
        assert shown["card_id"] in fake_wechat.cards and shown["sync_error"] is None
        assert shown["review_state"] == "submitted" and shown["in_sync"] is True
        sends = await AuditEntry.filter(action="wallet_card.send").order_by("id")
        assert [entry.after["outcome"] for entry in sends if entry.after] == ["failed", "created"]
        assert sends[0].after and "/card/create" in sends[0].after["error"]
        assert sends[1].after and sends[1].after["card_id"] == shown["card_id"]
        saved_by = (await AuditEntry.get(action="wallet_card.logo")).actor
        assert all(entry.actor == saved_by for entry in sends)

    async def test_busy_beyond_the_retries_is_503(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        await defined_card(client, owner)
        fake_wechat.inject("/card/update", errcode=-1, times=5)
        response = await client.put(API, json=DEFINITION | {"notice": "新"}, headers=owner)
        assert response.status == 503
        assert "errcode -1" in (await (await client.get(API, headers=owner)).json())["sync_error"]

    async def test_a_card_wechat_no_longer_knows_is_409_with_its_errcode(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        shown = await (await defined_card(client, owner)).json()
        del fake_wechat.cards[shown["card_id"]]
        response = await client.put(API, json=DEFINITION | {"notice": "新"}, headers=owner)
        assert response.status == 409
        error = (await response.json())["error"]
        assert error["code"] == "wechat_card_refused" and error["details"]["errcode"] == 40056
        kept = await (await client.get(API, headers=owner)).json()
        assert "40056" in kept["sync_error"] and kept["in_sync"] is False

    async def test_a_quota_is_429(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject("/card/create", errcode=45009)
        response = await defined_card(client, owner)
        assert response.status == 429
        assert (await response.json())["error"]["code"] == "wechat_rate_limited"

    async def test_a_failed_logo_upload_changes_nothing(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject("/cgi-bin/media/uploadimg", status=500, times=3)
        response = await upload_logo(client, owner)
        assert response.status == 503
        assert await WalletCard.all().count() == 0

    async def test_two_sendings_at_once_create_one_card(
        self, client: TestClient, owner: dict[str, str], fake_wechat: FakeWeChat
    ) -> None:
        await upload_logo(client, owner)
        await client.put(API, json=DEFINITION | {"title": "慢"}, headers=owner)  # sent
        await WalletCard.filter(id=1).update(card_id=None)  # as if never created
        fake_wechat.cards.clear()
        fake_wechat.inject("/card/create", delay=0.5)
        first, second = await asyncio.gather(
            client.post(f"{API}/sync", headers=owner), client.post(f"{API}/sync", headers=owner)
        )
        statuses = sorted([first.status, second.status])
        assert statuses == [200, 409]
        loser = first if first.status == 409 else second
        assert (await loser.json())["error"]["code"] == "wallet_card_sync_in_progress"
        assert len(fake_wechat.cards) == 1


def test_the_largest_logo_fits_in_base64_and_in_a_request_body() -> None:
    from admin.wallet_card_views import MAX_BASE64
    from handlers.wallet_card import LOGO_MAX_BYTES
    from wxmember.core.config import ServerConfig

    encoded = len(base64.b64encode(b"\x00" * LOGO_MAX_BYTES))
    assert encoded <= MAX_BASE64 < ServerConfig().max_body_bytes - 200
