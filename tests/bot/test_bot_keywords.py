"""Keywords and menu keys, for a follower linked to a member and for one who is not."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from handlers.coupons.issuing import issue_coupon
from handlers.points.ledger import earn
from tests.bot.conftest import BOUND_OPENID, UNBOUND_OPENID
from tests.support.localtime import freeze, local
from tests.support.settings import MINIAPP_APPID
from tests.support.wechat_push import OfficialPusher, PushReply, push_xml, voice_xml
from wxmember.core import member_cache
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member, Tier
from wxmember.core.models.coupons import CouponKind, CouponTemplate

NOW = local(2025, 12, 20, 10, 0)
YEAR_END = local(2025, 12, 31, 23, 59, 59)
BINDING_LINK = re.compile(
    r'<a data-miniprogram-appid="(?P<appid>[^"]+)" '
    r'data-miniprogram-path="pages/member/bind\?token=(?P<token>[A-Za-z0-9_-]+)"'
)

KEYWORDS: list[tuple[str, str]] = [
    ("签到", "checkin"),
    ("打卡", "checkin"),
    ("积分", "points"),
    ("我的积分", "points"),
    ("优惠券", "coupons"),
    ("我的券", "coupons"),
    ("会员卡", "card"),
    ("等级", "tier"),
    ("会员等级", "tier"),
    ("帮助", "help"),
    ("菜单", "help"),
    ("?", "help"),
    ("？", "help"),
    (" 签到 ", "checkin"),
    ("　积分　", "points"),
    ("ＨＥＬＰ", "help"),
    ("签到！", "checkin"),
    ("你好", "help"),
    ("随便说点什么", "help"),
]
MENU_KEYS: list[tuple[str, str]] = [
    ("CHECKIN", "checkin"),
    ("POINTS", "points"),
    ("COUPONS", "coupons"),
    ("CARD", "card"),
    ("TIER", "tier"),
    ("HELP", "help"),
    ("SOMETHING_NEW", "help"),
]
MEMBER_ACTIONS = {"checkin", "points", "coupons", "card", "tier"}


@pytest.fixture
async def member_with_things(services: Services, bound_member: Member) -> Member:
    """The bound member on 20 December: points expiring at year end, two coupons, a tier above."""
    freeze(services, NOW)
    await Tier.create(name="银卡会员", level=1, growth_threshold=1000, color="#9CA3AF")
    await earn(
        services,
        bound_member.id,
        1280,
        reason="purchase",
        idempotency_key="p1",
        expires_at=YEAR_END,
    )
    later = await CouponTemplate.create(
        title="新年券",
        kind=CouponKind.CASH,
        value=5000,
        threshold_fen=30000,
        valid_from=NOW - timedelta(days=1),
        valid_until=local(2026, 1, 31, 23, 59),
    )
    sooner = await CouponTemplate.create(
        title="岁末券",
        kind=CouponKind.CASH,
        value=2000,
        threshold_fen=10000,
        valid_from=NOW - timedelta(days=1),
        valid_until=YEAR_END,
    )
    for template in (later, sooner):
        await issue_coupon(
            services, bound_member.id, template.id, reason="gift", idempotency_key=f"c{template.id}"
        )
    return bound_member


def assert_answers(reply: PushReply, action: str, fake: FakeWeChat) -> None:
    """What a linked member reads for each action (with `member_with_things`)."""
    if action == "card":
        assert fake.live_media(reply.media_id) is not None
        assert fake.media[reply.media_id].content.startswith(b"\x89PNG")
        return
    content = reply.content
    expected = {
        "checkin": ["签到成功！获得 5 积分", "已连续签到 1 天", "当前共有 1,285 积分"],
        "points": ["您当前有 1,280 积分", "其中 1,280 积分将于 12月31日到期"],
        "coupons": [
            "您有 2 张可用优惠券",
            "1. 岁末券（满100减20），12月31日到期",
            "2. 新年券（满300减50），2026年1月31日到期",
        ],
        "tier": ["您现在是【普通会员】", "再获得 1,000 成长值即可升级为【银卡会员】"],
        "help": ["会员小助手", "签到：每日签到领积分"],
    }[action]
    for text in expected:
        assert text in content, content


def assert_invitation(reply: PushReply) -> str:
    """An unlinked follower is invited to open or bind a card; returns the binding token."""
    match = BINDING_LINK.search(reply.content)
    assert match is not None, reply.content
    assert match["appid"] == MINIAPP_APPID
    assert "您还没有绑定会员卡" in reply.content
    return match["token"]


class TestKeywords:
    @pytest.mark.parametrize(("text", "action"), KEYWORDS)
    async def test_linked_member(
        self,
        pusher: OfficialPusher,
        member_with_things: Member,
        fake_wechat: FakeWeChat,
        text: str,
        action: str,
    ) -> None:
        reply = await pusher.text(BOUND_OPENID, text)
        assert_answers(reply, action, fake_wechat)

    @pytest.mark.parametrize(("text", "action"), KEYWORDS)
    async def test_unlinked_follower(
        self, pusher: OfficialPusher, services: Services, text: str, action: str
    ) -> None:
        reply = await pusher.text(UNBOUND_OPENID, text)
        if action in MEMBER_ACTIONS:
            assert_invitation(reply)
        else:
            assert "会员小助手" in reply.content


class TestMenu:
    @pytest.mark.parametrize(("key", "action"), MENU_KEYS)
    async def test_linked_member(
        self,
        pusher: OfficialPusher,
        member_with_things: Member,
        fake_wechat: FakeWeChat,
        key: str,
        action: str,
    ) -> None:
        reply = await pusher.click(BOUND_OPENID, key)
        assert_answers(reply, action, fake_wechat)

    @pytest.mark.parametrize(("key", "action"), MENU_KEYS)
    async def test_unlinked_follower(self, pusher: OfficialPusher, key: str, action: str) -> None:
        reply = await pusher.click(UNBOUND_OPENID, key)
        if action in MEMBER_ACTIONS:
            assert_invitation(reply)
        else:
            assert "会员小助手" in reply.content


class TestConfiguredKeywords:
    @pytest.fixture
    def bot_settings(self) -> dict[str, dict[str, Any]]:
        return {
            "bot": {"keywords": {"ＱＤ": "checkin", "帮助": "points"}, "help_text": "自定义帮助"}
        }

    async def test_overrides_add_and_remap_keywords(
        self, pusher: OfficialPusher, member_with_things: Member
    ) -> None:
        assert "签到成功" in (await pusher.text(BOUND_OPENID, " qd ")).content
        assert "您当前有" in (await pusher.text(BOUND_OPENID, "帮助")).content
        assert (await pusher.text(BOUND_OPENID, "菜单")).content == "自定义帮助"


class TestOtherMessages:
    @pytest.mark.parametrize("kind", ["image", "voice", "location", "link"])
    async def test_non_text_messages_get_help(self, pusher: OfficialPusher, kind: str) -> None:
        xml = push_xml(UNBOUND_OPENID, kind, int(NOW.timestamp()), MsgId=4242)
        reply = await pusher.send(xml)
        assert "会员小助手" in reply.content


class TestVoice:
    """With speech recognition on, WeChat sends what it heard as `Recognition`."""

    @pytest.mark.parametrize(
        ("heard", "action"),
        [("积分。", "points"), ("签到！", "checkin"), ("我的券", "coupons"), ("等级", "tier")],
    )
    async def test_recognised_keyword_is_answered_like_text(
        self,
        pusher: OfficialPusher,
        member_with_things: Member,
        fake_wechat: FakeWeChat,
        heard: str,
        action: str,
    ) -> None:
        reply = await pusher.send(voice_xml(BOUND_OPENID, heard, at=int(NOW.timestamp())))
        assert_answers(reply, action, fake_wechat)

    async def test_unlinked_follower_is_invited(self, pusher: OfficialPusher) -> None:
        assert_invitation(await pusher.send(voice_xml(UNBOUND_OPENID, "积分")))

    @pytest.mark.parametrize("heard", [None, "", "今天天气怎么样"], ids=["off", "empty", "other"])
    async def test_nothing_recognised_gets_help(
        self, pusher: OfficialPusher, bound_member: Member, heard: str | None
    ) -> None:
        reply = await pusher.send(voice_xml(BOUND_OPENID, heard))
        assert "会员小助手" in reply.content


class TestDomainErrors:
    async def test_second_check_in_is_a_friendly_refusal(
        self, pusher: OfficialPusher, member_with_things: Member
    ) -> None:
        assert "签到成功" in (await pusher.text(BOUND_OPENID, "签到")).content
        again = await pusher.text(BOUND_OPENID, "签到")
        assert again.content == "今天已经签到过啦，明天再来吧～"

    async def test_member_without_a_card_is_invited(
        self, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        await Member.filter(id=bound_member.id).update(card_no=None)
        assert_invitation(await pusher.text(BOUND_OPENID, "积分"))

    async def test_wechat_failure_is_an_apology(
        self, pusher: OfficialPusher, member_with_things: Member, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject("/cgi-bin/media/upload", errcode=45009)
        reply = await pusher.text(BOUND_OPENID, "会员卡")
        assert reply.content == "服务有点忙，请稍后再试～"


class TestCardMedia:
    async def test_media_id_is_reused_until_the_card_changes(
        self, pusher: OfficialPusher, member_with_things: Member, fake_wechat: FakeWeChat
    ) -> None:
        first = await pusher.text(BOUND_OPENID, "会员卡")
        again = await pusher.text(BOUND_OPENID, "会员卡")
        assert again.media_id == first.media_id
        assert fake_wechat.calls["/cgi-bin/media/upload"] == 1
        await Member.filter(id=member_with_things.id).update(card_version=2)
        member_cache.changed(member_with_things.id)  # as every write to a member records
        changed = await pusher.text(BOUND_OPENID, "会员卡")
        assert changed.media_id != first.media_id
        assert fake_wechat.calls["/cgi-bin/media/upload"] == 2
