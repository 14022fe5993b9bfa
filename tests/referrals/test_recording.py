"""Recording a referral at card opening: rewards once, self-referral refused, the monthly limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.referrals import code_for, same_person
from tests.factories import auth_headers, create_member
from tests.members.flows import login, login_headers
from tests.referrals.kit import (
    coupon_template,
    invitee,
    open_with_code,
    referral_settings,
    referrer,
)
from tests.support.http import bearer
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.referrals import Referral, ReferralReward

PHONE = "13812345678"


async def _referral_points(member_id: int) -> list[int]:
    entries = PointsEntry.filter(member_id=member_id, reason="referral").order_by("id")
    return [entry.amount for entry in await entries]


class TestRecordAtCardOpening:
    async def test_both_sides_get_their_points_once_when_the_card_opens(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        referral = await Referral.get(invitee_id=newcomer.id)
        assert (referral.referrer_id, referral.status, referral.referrer_rewarded) == (
            friend.id,
            "rewarded",
            True,
        )
        assert await _referral_points(friend.id) == [100]
        assert await _referral_points(newcomer.id) == [50]
        entry = await PointsEntry.get(member_id=friend.id, reason="referral")
        assert entry.idempotency_key == f"referral:{referral.id}:referrer:points"
        states = await ReferralReward.filter(referral_id=referral.id).values_list(
            "state", flat=True
        )
        assert sorted(states) == ["paid", "paid"]
        await assert_ledger_consistent(friend.id)
        await assert_ledger_consistent(newcomer.id)

    async def test_a_coupon_reward_is_issued_under_the_referral_key(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        template = await coupon_template()
        await referral_settings(invitee_points=0, invitee_coupon_template_id=template.id)
        _, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        coupon = await Coupon.get(member_id=newcomer.id)
        referral = await Referral.get(invitee_id=newcomer.id)
        assert coupon.issue_key == f"referral:{referral.id}:invitee:coupon"
        reward = await ReferralReward.get(referral_id=referral.id, kind="coupon")
        assert (reward.state, reward.coupon_id) == ("paid", coupon.id)

    async def test_a_sold_out_coupon_fails_the_reward_not_the_card(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        template = await coupon_template(stock=0)
        await referral_settings(invitee_coupon_template_id=template.id)
        _, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        assert newcomer.card_no is not None
        reward = await ReferralReward.get(member_id=newcomer.id, kind="coupon")
        assert (reward.state, reward.error) == ("failed", "sold_out")
        assert await _referral_points(newcomer.id) == [50]

    async def test_without_a_code_nothing_is_recorded(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        await referral_settings()
        headers = await login_headers(client, fake_wechat, "o-new")
        status, _ = await open_with_code(client, headers, None)
        assert status == 201
        assert await Referral.all().count() == 0

    async def test_with_referrals_off_a_code_is_ignored_and_the_card_opens(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings(enabled=False)
        _, code = await referrer(services)
        await invitee(client, fake_wechat, "o-new", code)
        assert await Referral.all().count() == 0
        assert await PointsEntry.filter(reason="referral").count() == 0

    @pytest.mark.parametrize("code", ["ZZZZZZZZZZ", "not a code", ""])
    async def test_an_unknown_code_is_400_and_no_card_opens(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, code: str
    ) -> None:
        await referral_settings()
        await referrer(services)
        headers = await login_headers(client, fake_wechat, "o-new")
        status, body = await open_with_code(client, headers, code)
        assert (status, body["error"]["code"]) == (400, "invalid_referral_code")
        assert (await Member.get(openid="o-new")).card_no is None

    async def test_a_code_is_read_without_spaces_and_in_any_case(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        _, code = await referrer(services)
        await invitee(client, fake_wechat, "o-new", f" {code[:5].lower()} {code[5:]}")
        assert await Referral.all().count() == 1


class TestSelfReferral:
    async def test_a_shared_unionid_is_409_self_referral_and_the_card_stays_closed(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        owner, code = await referrer(services)
        owner.unionid = "u-same-person"
        await owner.save(update_fields=["unionid"])
        token = (await login(client, fake_wechat, "o-second", unionid="u-same-person"))["token"]
        status, body = await open_with_code(client, bearer(token), code)
        assert (status, body["error"]["code"]) == (409, "self_referral")
        assert (await Member.get(openid="o-second")).card_no is None
        assert await Referral.all().count() == 0
        assert await PointsEntry.filter(reason__in=["referral", "welcome"]).count() == 0

    async def test_a_shared_phone_is_refused_and_records_nothing(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        owner, code = await referrer(services)
        owner.phone_hash = services.cipher.lookup_hash(PHONE)
        await owner.save(update_fields=["phone_hash"])
        headers = await login_headers(client, fake_wechat, "o-second")
        phone_code = fake_wechat.issue_phone_code(PHONE, "86", openid="o-second")
        status, body = await open_with_code(client, headers, code, phone_code=phone_code)
        # one phone, one card: the phone is refused before the referral is looked at
        assert (status, body["error"]["code"]) == (409, "phone_taken")
        assert await Referral.all().count() == 0

    async def test_the_same_phone_hash_or_unionid_makes_the_same_person(self) -> None:
        one = Member(id=1, unionid=None, phone_hash="h1")
        assert same_person(Member(id=2, unionid=None, phone_hash="h1"), one)
        assert same_person(Member(id=2, unionid="u", phone_hash=None), Member(id=3, unionid="u"))
        assert same_person(Member(id=1), one)
        assert not same_person(Member(id=2, unionid=None, phone_hash=None), one)
        assert not same_person(Member(id=2, unionid="u", phone_hash="h2"), one)

    async def test_the_own_code_is_409_self_referral(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        headers = await login_headers(client, fake_wechat, "o-me")
        me = await Member.get(openid="o-me")
        # a code can only be drawn by a card holder: draw it as one, then take the card away
        me.card_no = "8800000099999999"
        await me.save(update_fields=["card_no"])
        code = await code_for(services, me)
        me.card_no = None
        await me.save(update_fields=["card_no"])
        status, body = await open_with_code(client, headers, code)
        assert (status, body["error"]["code"]) == (409, "self_referral")


class TestOncePerInvitee:
    async def test_concurrent_openings_with_a_code_reward_once(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        friend, code = await referrer(services)
        headers = await login_headers(client, fake_wechat, "o-rush")
        results = await asyncio.gather(*(open_with_code(client, headers, code) for _ in range(12)))
        assert Counter(status for status, _ in results) == {201: 1, 409: 11}
        newcomer = await Member.get(openid="o-rush")
        assert await Referral.filter(invitee_id=newcomer.id).count() == 1
        assert await _referral_points(friend.id) == [100]
        assert await _referral_points(newcomer.id) == [50]
        await assert_ledger_consistent(friend.id)

    async def test_opening_again_records_nothing_more(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        friend, code = await referrer(services)
        headers = await login_headers(client, fake_wechat, "o-new")
        assert (await open_with_code(client, headers, code))[0] == 201
        status, body = await open_with_code(client, headers, code)
        assert (status, body["error"]["code"]) == (409, "card_exists")
        assert await _referral_points(friend.id) == [100]

    async def test_a_member_with_a_card_already_cannot_be_referred(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        _, code = await referrer(services)
        holder = await create_member(openid="o-holder")
        status, body = await open_with_code(client, auth_headers(services, holder), code)
        assert (status, body["error"]["code"]) == (409, "card_exists")
        assert await Referral.all().count() == 0


class TestMonthlyLimit:
    async def test_beyond_the_limit_the_referrer_gets_nothing_and_the_invitee_still_does(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings(monthly_limit=2)
        friend, code = await referrer(services)
        invitees = [await invitee(client, fake_wechat, f"o-{n}", code) for n in range(3)]
        assert await _referral_points(friend.id) == [100, 100]
        third = await Referral.get(invitee_id=invitees[2].id)
        assert third.referrer_rewarded is False
        assert await _referral_points(invitees[2].id) == [50]
        assert await ReferralReward.filter(referral_id=third.id, side="referrer").count() == 0

    async def test_the_limit_starts_again_in_the_next_local_month(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings(monthly_limit=1)
        friend, code = await referrer(services)
        clock = freeze(services, local(2026, 3, 31, 23, 0))
        await invitee(client, fake_wechat, "o-1", code)
        await invitee(client, fake_wechat, "o-2", code)
        clock.set(local(2026, 4, 1, 0, 30))
        await invitee(client, fake_wechat, "o-3", code)
        assert await _referral_points(friend.id) == [100, 100]
        months: list[Any] = await Referral.all().order_by("id").values_list("month", flat=True)
        assert [month.isoformat() for month in months] == ["2026-03-01"] * 2 + ["2026-04-01"]

    async def test_concurrent_invitees_of_one_referrer_stay_within_the_limit(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings(monthly_limit=2)
        friend, code = await referrer(services)
        headers = [await login_headers(client, fake_wechat, f"o-{n}") for n in range(6)]
        results: list[tuple[int, Any]] = await asyncio.gather(
            *(open_with_code(client, each, code) for each in headers)
        )
        assert [status for status, _ in results] == [201] * 6
        assert await _referral_points(friend.id) == [100, 100]
        assert await Referral.filter(referrer_rewarded=True).count() == 2
        assert await PointsEntry.filter(reason="referral", amount=50).count() == 6
        await assert_ledger_consistent(friend.id)
