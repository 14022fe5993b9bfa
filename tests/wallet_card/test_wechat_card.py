"""The member card at WeChat: the bodies of card/create and card/update as wechatpy sends them,
the client's calls (logo upload, create, update) and the fake's rules, each as WeChat refuses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wallet_card.kit import PNG, face, home, wechatpy_request
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.wechat import WeChatBusy, WeChatInvalidArgument, WeChatNetworkError
from wxmember.core.wechat.member_card import COLOURS, create_body, fits, update_body

DOCUMENTED_CREATE = {
    "card": {
        "card_type": "MEMBER_CARD",
        "member_card": {
            "base_info": {
                "logo_url": "LOGO",
                "brand_name": "测试品牌",
                "code_type": "CODE_TYPE_TEXT",
                "title": "测试会员卡",
                "color": "Color010",
                "notice": "结账时出示会员码",
                "description": "积分可在商城兑换礼品。",
                "sku": {"quantity": 100000000},
                "date_info": {"type": "DATE_TYPE_PERMANENT"},
                "use_custom_code": True,
                "get_limit": 1,
                "can_give_friend": False,
                "can_share": False,
                "center_title": "会员码",
                "center_app_brand_user_name": "gh_0a1b2c3d4e5f@app",
                "center_app_brand_pass": "pages/card/index",
            },
            "supply_bonus": True,
            "supply_balance": False,
            "prerogative": "会员专享折扣与生日礼。",
            "custom_field1": {"name_type": "FIELD_NAME_TYPE_LEVEL"},
            "custom_field2": {"name_type": "FIELD_NAME_TYPE_COUPON"},
            "wx_activate": True,
            "wx_activate_after_submit": True,
        },
    }
}


async def _logo(services: Services) -> str:
    return await services.official.upload_card_logo("logo.png", PNG, "image/png")


class TestPayloads:
    def test_the_create_body_is_the_documented_member_card(self) -> None:
        assert create_body(face("LOGO"), home()) == DOCUMENTED_CREATE

    def test_custom_fields_follow_the_chosen_fields_and_points_are_the_bonus(self) -> None:
        card = create_body(face("LOGO", show_tier=False, show_points=False), home())
        member_card = card["card"]["member_card"]
        assert member_card["custom_field1"] == {"name_type": "FIELD_NAME_TYPE_COUPON"}
        assert "custom_field2" not in member_card
        assert member_card["supply_bonus"] is False

    def test_without_the_mini_program_s_id_there_is_no_centre_button(self) -> None:
        base_info = create_body(face("LOGO"), home(miniapp_original_id=""))["card"]["member_card"][
            "base_info"
        ]
        assert not {key for key in base_info if key.startswith("center_")}

    def test_the_update_body_leaves_out_what_wechat_keeps_fixed(self) -> None:
        body = update_body("pCARD", face("LOGO"), home())
        assert body["card_id"] == "pCARD"
        fixed = {"brand_name", "sku", "date_info", "use_custom_code", "get_limit", "code_type"}
        assert not fixed & set(body["member_card"]["base_info"])
        assert "wx_activate" not in body["member_card"]

    def test_colours_are_wechat_s_named_ones(self) -> None:
        assert COLOURS["Color010"] == "#63b359" and COLOURS["Color100"] == "#cc463d"
        assert all(name.startswith("Color") and len(hex_) == 7 for name, hex_ in COLOURS.items())

    def test_a_chinese_character_counts_one_and_two_others_one(self) -> None:
        assert fits("九个汉字的会员卡名", 9) and not fits("十个汉字的会员卡名称", 9)
        assert fits("A" * 18, 9) and not fits("A" * 19, 9)


class TestSameRequestAsWechatpy:
    async def test_create_sends_what_wechatpy_sends(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        body = create_body(face(await _logo(services)), home())
        card_id = await services.official.create_card(body)
        sent = fake_wechat.cards[card_id].bodies[0]
        path, theirs = wechatpy_request(
            lambda wx: wx.card.create(body), {"errcode": 0, "errmsg": "ok", "card_id": "x"}
        )
        assert path == "/card/create"
        assert sent == theirs
        for name, value in theirs["card"]["member_card"]["base_info"].items():
            assert sent["card"]["member_card"]["base_info"][name] == value, name

    async def test_update_sends_what_wechatpy_sends(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        card_id = await services.official.create_card(create_body(face(logo), home()))
        body = update_body(card_id, face(logo, notice="到店出示会员码"), home())
        assert await services.official.update_card(body) is False
        path, theirs = wechatpy_request(
            lambda wx: wx.card.update(body), {"errcode": 0, "errmsg": "ok", "send_check": False}
        )
        assert path == "/card/update"
        assert fake_wechat.cards[card_id].bodies[-1] == theirs

    async def test_the_logo_upload_is_wechatpy_s_media_upload_image(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        url = await _logo(services)
        assert fake_wechat.card_images[url] == PNG
        assert fake_wechat.calls["/cgi-bin/media/uploadimg"] == 1


def _created(services: Services, logo: str) -> dict[str, Any]:
    return create_body(face(logo), home())


class TestFakeRefusesWhatWeChatRefuses:
    async def test_a_colour_not_in_the_list_is_40097(self, services: Services) -> None:
        body = create_body(face(await _logo(services), color="Color999"), home())
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.create_card(body)
        assert refused.value.errcode == 40097 and "color" in refused.value.errmsg

    @pytest.mark.parametrize("field", ["title", "notice", "description", "logo_url"])
    async def test_a_missing_base_info_field_is_41011(self, services: Services, field: str) -> None:
        body = create_body(face(await _logo(services)), home())
        del body["card"]["member_card"]["base_info"][field]
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.create_card(body)
        assert refused.value.errcode == 41011 and f"base_info.{field}" in refused.value.errmsg

    async def test_a_title_over_nine_chinese_characters_is_45021(self, services: Services) -> None:
        body = create_body(face(await _logo(services), title="十个汉字的会员卡名称"), home())
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.create_card(body)
        assert refused.value.errcode == 45021

    async def test_nine_chinese_characters_are_accepted(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        body = create_body(face(await _logo(services), title="九个汉字的会员卡名"), home())
        assert await services.official.create_card(body) in fake_wechat.cards

    async def test_an_unknown_card_id_is_40056(self, services: Services) -> None:
        body = update_body("pNoSuchCard", face(await _logo(services)), home())
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.update_card(body)
        assert refused.value.errcode == 40056 and "invalid card id" in refused.value.errmsg

    async def test_another_card_type_is_40071(self, services: Services) -> None:
        body = _created(services, await _logo(services))
        body["card"]["card_type"] = "GROUPON"
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.create_card(body)
        assert refused.value.errcode == 40071

    async def test_a_logo_not_uploaded_to_wechat_is_refused(self, services: Services) -> None:
        body = create_body(face("https://example.com/logo.png"), home())
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.create_card(body)
        assert "logo_url" in refused.value.errmsg

    async def test_the_brand_name_cannot_be_updated(self, services: Services) -> None:
        logo = await _logo(services)
        card_id = await services.official.create_card(_created(services, logo))
        body = update_body(card_id, face(logo), home())
        body["member_card"]["base_info"]["brand_name"] = "别的品牌"
        with pytest.raises(WeChatInvalidArgument):
            await services.official.update_card(body)

    async def test_an_upload_that_is_not_an_image_is_40005(self, services: Services) -> None:
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.upload_card_logo("logo.png", b"GIF89a....", "image/gif")
        assert refused.value.errcode == 40005


class TestReview:
    async def test_a_created_card_waits_in_review_and_a_new_title_goes_back(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        card_id = await services.official.create_card(_created(services, logo))
        assert fake_wechat.cards[card_id].status == "CARD_STATUS_NOT_VERIFY"
        event = fake_wechat.review_card(card_id, approved=True)
        assert event == {"Event": "card_pass_check", "CardId": card_id}
        assert fake_wechat.cards[card_id].status == "CARD_STATUS_VERIFY_OK"
        assert await services.official.update_card(
            update_body(card_id, face(logo, title="新会员卡"), home())
        )
        assert fake_wechat.cards[card_id].status == "CARD_STATUS_NOT_VERIFY"

    async def test_a_rejection_carries_the_reason(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        card_id = await services.official.create_card(_created(services, await _logo(services)))
        event = fake_wechat.review_card(card_id, approved=False, reason="logo不清晰")
        assert event["Event"] == "card_not_pass_check" and event["RefuseReason"] == "logo不清晰"


class TestRetries:
    async def test_a_busy_update_is_retried(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        card_id = await services.official.create_card(_created(services, logo))
        fake_wechat.inject("/card/update", errcode=-1)
        await services.official.update_card(update_body(card_id, face(logo), home()))
        assert fake_wechat.calls["/card/update"] == 2

    async def test_a_create_that_may_have_arrived_is_not_repeated(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        fake_wechat.inject("/card/create", status=502)
        with pytest.raises(WeChatNetworkError):
            await services.official.create_card(_created(services, logo))
        assert fake_wechat.calls["/card/create"] == 1

    async def test_busy_twice_gives_up_with_busy(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        fake_wechat.inject("/card/create", errcode=-1, times=5)
        with pytest.raises(WeChatBusy):
            await services.official.create_card(_created(services, logo))

    async def test_an_expired_token_is_renewed_once(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        logo = await _logo(services)
        fake_wechat.expire_tokens()
        assert await services.official.create_card(_created(services, logo)) in fake_wechat.cards
