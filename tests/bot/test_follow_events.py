"""Follow, unfollow and QR scans; linking followers to members through unionid."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestClient

from handlers.followers.links import link_member_follower, unlink_member
from tests.bot.conftest import BOUND_OPENID, UNBOUND_OPENID
from tests.factories import create_member
from tests.support.wechat_push import OfficialPusher, event_xml, push_xml
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower

USER_INFO = "/cgi-bin/user/info"
WELCOME = "感谢关注测试品牌！"


async def member_with_unionid(unionid: str) -> Member:
    member = await create_member(name="王五")
    member.unionid = unionid
    await member.save(update_fields=["unionid"])
    return member


class TestSubscribe:
    async def test_follower_known_by_unionid_is_linked_and_welcomed(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        member = await member_with_unionid("uUnion-1")
        fake_wechat.add_follower("oNewFollower-1", unionid="uUnion-1")
        reply = await pusher.event("oNewFollower-1", "subscribe")
        assert reply.content.startswith(WELCOME)
        assert "已为您关联会员卡" in reply.content
        await member.refresh_from_db()
        assert member.official_openid == "oNewFollower-1"
        follower = await Follower.get(openid="oNewFollower-1")
        assert follower.subscribed and follower.subscribed_at is not None
        assert follower.member_id == member.id
        assert follower.unionid == "uUnion-1"

    async def test_unionid_in_the_push_links_without_asking_wechat(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        member = await member_with_unionid("uUnion-2")
        at = int(time.time())
        xml = push_xml("oNewFollower-2", "event", at, Event="subscribe", UnionId="uUnion-2")
        reply = await pusher.send(xml)
        assert "已为您关联会员卡" in reply.content
        assert fake_wechat.calls[USER_INFO] == 0
        assert (await Member.get(id=member.id)).official_openid == "oNewFollower-2"

    async def test_stranger_is_welcomed_and_invited(self, pusher: OfficialPusher) -> None:
        reply = await pusher.event(UNBOUND_OPENID, "subscribe")
        assert reply.content.startswith(WELCOME)
        assert "点此开通或绑定会员卡" in reply.content
        assert (await Follower.get(openid=UNBOUND_OPENID)).member_id is None

    async def test_store_qr_code_records_the_scene(self, pusher: OfficialPusher) -> None:
        reply = await pusher.event(UNBOUND_OPENID, "subscribe", "qrscene_store_1001")
        assert reply.content.startswith(WELCOME)
        follower = await Follower.get(openid=UNBOUND_OPENID)
        assert follower.last_scene == "store_1001"
        assert follower.last_scene_at is not None

    @pytest.mark.parametrize(
        "key",
        [
            "scanbarcode|EAN13|6901234567892",
            "scanimage|QR|product-77",
            "last_trade_no_4200001234202501011234567890",
            "",
            "   ",
            "qrscene_",
            "QRSCENE_store_1001",
            "活动-2025",
            "x" * 300,
        ],
        ids=[
            "product-barcode",
            "product-image",
            "after-payment",
            "empty",
            "blank",
            "prefix-only",
            "upper-case-prefix",
            "chinese",
            "long",
        ],
    )
    async def test_any_other_event_key_still_welcomes_and_records_the_follower(
        self, pusher: OfficialPusher, key: str
    ) -> None:
        reply = await pusher.event(UNBOUND_OPENID, "subscribe", key)
        assert reply.content.startswith(WELCOME)
        assert "点此开通或绑定会员卡" in reply.content
        follower = await Follower.get(openid=UNBOUND_OPENID)
        assert follower.subscribed and follower.subscribed_at is not None
        assert follower.last_scene is None

    async def test_a_product_scan_by_a_member_links_and_welcomes(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        member = await member_with_unionid("uUnion-8")
        fake_wechat.add_follower("oNewFollower-8", unionid="uUnion-8")
        reply = await pusher.event("oNewFollower-8", "subscribe", "scanbarcode|EAN13|6901234567892")
        assert "已为您关联会员卡" in reply.content
        assert (await Member.get(id=member.id)).official_openid == "oNewFollower-8"

    async def test_unionid_of_a_member_linked_elsewhere_links_nothing(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        member = await member_with_unionid("uUnion-3")
        await Member.filter(id=member.id).update(official_openid="oSomeoneElse")
        fake_wechat.add_follower("oNewFollower-3", unionid="uUnion-3")
        reply = await pusher.event("oNewFollower-3", "subscribe")
        assert "点此开通或绑定会员卡" in reply.content
        assert (await Member.get(id=member.id)).official_openid == "oSomeoneElse"


class TestScan:
    async def test_scan_by_a_follower_records_the_store(
        self, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        await pusher.event(BOUND_OPENID, "subscribe", "qrscene_store_1001")
        reply = await pusher.event(BOUND_OPENID, "SCAN", "store_2002")
        assert reply.content == WELCOME + "回复「签到」每天领积分，回复「帮助」查看全部功能。"
        assert (await Follower.get(openid=BOUND_OPENID)).last_scene == "store_2002"


class TestUnsubscribe:
    async def test_unfollow_marks_the_follower_and_keeps_the_member(
        self, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        await pusher.event(BOUND_OPENID, "subscribe")
        reply = await pusher.event(BOUND_OPENID, "unsubscribe")
        assert reply.is_success
        follower = await Follower.get(openid=BOUND_OPENID)
        assert not follower.subscribed
        assert follower.unsubscribed_at is not None
        assert (await Member.get(id=bound_member.id)).official_openid == BOUND_OPENID
        back = await pusher.event(BOUND_OPENID, "subscribe")
        assert "已为您关联会员卡" in back.content
        assert (await Follower.get(openid=BOUND_OPENID)).subscribed


class TestLinkOnFirstKeyword:
    async def test_keyword_links_a_follower_known_by_unionid(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        member = await member_with_unionid("uUnion-4")
        fake_wechat.add_follower("oOldFollower-4", unionid="uUnion-4")
        reply = await pusher.text("oOldFollower-4", "积分")
        assert reply.content.startswith("您当前有 0 积分")
        assert (await Member.get(id=member.id)).official_openid == "oOldFollower-4"
        await pusher.text("oOldFollower-4", "积分")
        assert fake_wechat.calls[USER_INFO] == 1

    async def test_unknown_unionid_is_asked_again_only_after_a_while(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        for _ in range(3):
            await pusher.text(UNBOUND_OPENID, "积分")
        assert fake_wechat.calls[USER_INFO] == 1

    async def test_wechat_failure_still_answers(
        self, pusher: OfficialPusher, fake_wechat: FakeWeChat
    ) -> None:
        fake_wechat.inject(USER_INFO, errcode=-1, times=5)
        reply = await pusher.send(event_xml(UNBOUND_OPENID, "subscribe"))
        assert reply.content.startswith(WELCOME)


class TestLinkAtMiniappLogin:
    async def test_member_logging_in_takes_the_follower_with_its_unionid(
        self, client: TestClient
    ) -> None:
        await Follower.create(openid="oFollower-5", unionid="uUnion-5", subscribed=True)
        member = await member_with_unionid("uUnion-5")
        follower = await link_member_follower(member)
        assert follower is not None and follower.openid == "oFollower-5"
        assert (await Member.get(id=member.id)).official_openid == "oFollower-5"
        assert (await Follower.get(openid="oFollower-5")).member_id == member.id

    async def test_nothing_to_link(self, bound_member: Member) -> None:
        assert await link_member_follower(bound_member) is None
        stranger = await member_with_unionid("uUnion-6")
        assert await link_member_follower(stranger) is None

    async def test_follower_linked_to_someone_else_stays_theirs(self, bound_member: Member) -> None:
        await Follower.create(openid=BOUND_OPENID, unionid="uUnion-7", subscribed=True)
        newcomer = await member_with_unionid("uUnion-7")
        assert await link_member_follower(newcomer) is None
        assert (await Member.get(id=newcomer.id)).official_openid is None


class TestUnlinkMember:
    async def test_deleted_member_leaves_the_follower_unlinked(
        self, pusher: OfficialPusher, bound_member: Member
    ) -> None:
        await pusher.event(BOUND_OPENID, "subscribe")
        assert (await Follower.get(openid=BOUND_OPENID)).member_id == bound_member.id
        await unlink_member(bound_member.id)
        follower = await Follower.get(openid=BOUND_OPENID)
        assert follower.member_id is None
        assert follower.subscribed
