"""Members' cards in the WeChat wallet kept in step: the database marks a held card to send in
the transaction of each change, and the sender activates it, then sends the member's latest
state, coalesced, retried, parked when WeChat refuses it for good."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from apscheduler.triggers.interval import IntervalTrigger
from tortoise.transactions import in_transaction

from handlers import points
from handlers.coupons.issuing import issue_coupon, take_stock
from handlers.points.reasons import REASON_TEXTS
from handlers.wallet_card import wallet_sync
from handlers.wallet_card.backlog import mask_card_no, member_wallet
from handlers.wallet_card.shapes import WalletSyncShown
from jobs.base import JobContext
from jobs.wallet_card import sync_wallet_cards
from tests.conftest import StaffLogin
from tests.factories import create_member
from tests.reminders.kit import coupon_template
from tests.support.localtime import freeze
from tests.support.settings import requires_postgres
from tests.wallet_card.conftest import API
from tests.wallet_card.kit import wechatpy_request
from tests.wallet_card.sync_kit import (
    ACTIVATE,
    CARD_ID,
    UPDATE,
    Holding,
    add_card,
    define_card,
    delete_card,
    drain,
)
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member, Tier
from wxmember.core.models.coupons import Coupon, CouponSource, CouponStatus
from wxmember.core.models.wallet_card import WalletCardHolder
from wxmember.core.wechat import WeChatInvalidArgument
from wxmember.core.wechat.member_card import MemberCardState, activate_body, update_user_body

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MEMBERS_LOCALE = Path(__file__).parents[2] / "console" / "locale" / "zh_CN" / "members.toml"


async def _versions(holding: Holding) -> tuple[int, int]:
    row = await holding.row()
    return row.wanted_version, row.sent_version


async def _earn(services: Services, holding: Holding, amount: int, key: str) -> None:
    await points.earn(services, holding.member.id, amount, reason="checkin", idempotency_key=key)


async def _silver() -> Tier:
    return await Tier.create(name="银卡会员", level=1, growth_threshold=100, color="#9CA3AF")


class TestTriggers:
    """Every change of what the card shows marks it, in the change's own transaction."""

    async def test_a_points_change_bumps_the_held_card(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        before, _ = await _versions(holding)
        await _earn(services, holding, 10, "t1")
        assert (await _versions(holding))[0] == before + 1

    async def test_a_rolled_back_change_does_not(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        before = await _versions(holding)
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                await Member.filter(id=holding.member.id).using_db(conn).update(points_balance=99)
                raise RuntimeError("rolled back")
        assert await _versions(holding) == before
        assert (await Member.get(id=holding.member.id)).points_balance == 0

    async def test_a_tier_change_bumps_it(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        before, _ = await _versions(holding)
        silver = await _silver()
        await Member.filter(id=holding.member.id).update(tier_id=silver.id)
        assert (await _versions(holding))[0] == before + 1

    async def test_a_coupon_issued_then_used_bumps_it_each_time(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        before, _ = await _versions(holding)
        template = await coupon_template()
        coupon = await issue_coupon(
            services, holding.member.id, template.id, reason="gift", idempotency_key="c1"
        )
        assert (await _versions(holding))[0] == before + 1
        await Coupon.filter(id=coupon.id, status=CouponStatus.UNUSED).update(
            status=CouponStatus.USED, used_at=services.clock.now()
        )
        assert (await _versions(holding))[0] == before + 2

    @requires_postgres
    async def test_a_change_and_a_claim_of_one_member_crossing_locks_do_not_deadlock(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        """A redemption (the member's points, then a coupon template's stock) and a claim (that
        template's stock, then the member's coupon) at once: were the card marked where the
        change happens, each would hold what the other waits for. Marked at commit, both pass."""
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        member_id = holding.member.id
        before, _ = await _versions(holding)
        template = await coupon_template()
        changed, stock_taken = asyncio.Event(), asyncio.Event()

        async def redemption() -> None:
            async with in_transaction() as conn:
                await Member.filter(id=member_id).using_db(conn).update(points_balance=5)
                changed.set()
                await stock_taken.wait()
                assert await take_stock(conn, template.id)  # waits for the claim to commit

        async def claim() -> None:
            await changed.wait()
            async with in_transaction() as conn:
                assert await take_stock(conn, template.id)
                stock_taken.set()
                await asyncio.sleep(0.3)  # the redemption is now waiting for the template
                now = services.clock.now()
                await Coupon.create(
                    using_db=conn,
                    code="WALLETLOCKS0001",
                    template_id=template.id,
                    member_id=member_id,
                    source=CouponSource.CLAIM,
                    valid_from=now,
                    valid_until=now + timedelta(days=30),
                )

        await asyncio.wait_for(asyncio.gather(redemption(), claim()), timeout=60)
        assert (await _versions(holding))[0] == before + 2

    async def test_a_deleted_card_and_a_member_without_one_are_left_alone(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await delete_card(services, fake_wechat, holding)
        before = await _versions(holding)
        await _earn(services, holding, 10, "d1")
        assert await _versions(holding) == before
        other = await create_member()
        await points.earn(services, other.id, 10, reason="checkin", idempotency_key="o1")
        assert (await Member.get(id=other.id)).points_balance == 10
        assert await WalletCardHolder.filter(member_id=other.id).count() == 0
        assert await wallet_sync.due_ids(services, 10) == []


class TestActivation:
    async def test_the_activation_carries_the_balance_tier_and_coupons(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await _earn(services, holding, 120, "a1")
        template = await coupon_template()
        await issue_coupon(
            services, holding.member.id, template.id, reason="g", idempotency_key="k"
        )
        summary = await drain(services)
        assert summary.outcomes == {"activated": 1}
        entry = holding.entry
        assert entry.activated and entry.membership_number == holding.member.card_no
        assert entry.bonus == 120
        assert entry.custom_fields == {1: "普通会员", 2: "1"}
        [body] = entry.activations
        assert body == {
            "membership_number": holding.member.card_no,
            "code": holding.member.card_no,
            "card_id": CARD_ID,
            "init_bonus": 120,
            "init_bonus_record": "签到",
            "init_custom_field_value1": "普通会员",
            "init_custom_field_value2": "1",
        }
        row = await holding.row()
        assert row.activated_at is not None and row.sent_version == row.wanted_version
        assert (row.sent_bonus, row.attempts, row.last_error, row.claimed_until) == (
            120,
            0,
            None,
            None,
        )
        assert entry.updates == []

    async def test_only_the_fields_the_card_shows_are_sent_numbered_as_the_card(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat, show_tier=False)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        [body] = holding.entry.activations
        assert body["init_custom_field_value1"] == "0"  # the coupons count is field 1 now
        assert "init_custom_field_value2" not in body

    async def test_under_review_it_is_retried_later_not_lost(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        clock = freeze(services, START)
        await define_card(services, fake_wechat, approved=False)
        holding = await add_card(services, fake_wechat)
        await _earn(services, holding, 30, "r1")
        assert (await drain(services)).outcomes == {"retry": 1}
        row = await holding.row()
        assert row.activated_at is None and row.sent_version == 0 and row.attempts == 1
        assert row.last_error is not None and "40078" in row.last_error
        assert row.attempt_after == START + timedelta(seconds=10)
        assert row.claimed_until is None
        assert (await drain(services)).claimed == 0  # not before its time
        fake_wechat.review_card(CARD_ID, approved=True)
        clock.set(START + timedelta(seconds=10))
        assert (await drain(services)).outcomes == {"activated": 1}
        assert holding.entry.activated and holding.entry.bonus == 30
        assert (await holding.row()).last_error is None

    async def test_already_activated_counts_as_sent_and_the_state_follows(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        """An activation whose answer was lost: WeChat refuses the second one, and the state
        goes with an update instead."""
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        holding.entry.activated = True
        await _earn(services, holding, 70, "x1")
        assert (await drain(services)).outcomes == {"activated": 1}
        assert fake_wechat.calls[ACTIVATE] == 1
        assert holding.entry.activations == []  # refused
        assert [body["bonus"] for body in holding.entry.updates] == [70]
        row = await holding.row()
        assert row.activated_at is not None and row.sent_version == row.wanted_version

    async def test_the_fake_activates_a_code_once(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        body = holding.entry.activations[0]
        with pytest.raises(WeChatInvalidArgument) as refused:
            await services.official.activate_member_card(body)
        assert refused.value.errcode == 40078


class TestUpdates:
    async def test_updates_carry_the_latest_state_and_the_reason(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await _earn(services, holding, 50, "u1")
        await points.spend(
            services, holding.member.id, 20, reason="mall_redemption", idempotency_key="u2"
        )
        silver = await _silver()
        await Member.filter(id=holding.member.id).update(tier_id=silver.id)
        assert (await drain(services)).outcomes == {"sent": 1}
        [body] = holding.entry.updates
        assert body == {
            "code": holding.member.card_no,
            "card_id": CARD_ID,
            "bonus": 30,
            "record_bonus": "商城兑换",
            "custom_field_value1": "银卡会员",
            "custom_field_value2": "0",
        }
        assert holding.entry.bonus == 30 and holding.entry.custom_fields[1] == "银卡会员"
        assert (await holding.row()).sent_bonus == 30
        assert (await drain(services)).claimed == 0  # nothing new: nothing sent

    async def test_an_operator_adjustment_reads_as_its_kind(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await points.earn(
            services, holding.member.id, 5, reason="客诉补偿 #4411", idempotency_key="adj"
        )
        await drain(services)
        assert holding.entry.updates[-1]["record_bonus"] == "获得积分"

    @pytest.mark.parametrize(
        ("fault", "calls_per_round"),
        [({"errcode": -1}, 2), ({"status": 502}, 2), ({"errcode": 45009}, 1)],
        ids=["busy", "http-502", "rate-limited"],
    )
    async def test_transient_failures_are_retried_with_back_off(
        self,
        services: Services,
        fake_wechat: FakeWeChat,
        fault: dict[str, Any],
        calls_per_round: int,
    ) -> None:
        """Busy and 5xx are repeated once by the client itself; a rate limit is not."""
        clock = freeze(services, START)
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await _earn(services, holding, 40, "f1")
        fake_wechat.inject(UPDATE, times=2 * calls_per_round, **fault)  # two rounds fail
        assert (await drain(services)).outcomes == {"retry": 1}
        row = await holding.row()
        assert row.attempts == 1 and row.attempt_after == START + timedelta(seconds=10)
        assert row.last_error and "/card/membercard/updateuser" in row.last_error
        assert "access_token" not in row.last_error
        clock.set(START + timedelta(seconds=10))
        assert (await drain(services)).outcomes == {"retry": 1}
        second = await holding.row()
        assert second.attempts == 2
        assert second.attempt_after == START + timedelta(seconds=10 + 20)
        clock.set(START + timedelta(seconds=30))
        assert (await drain(services)).outcomes == {"sent": 1}
        row = await holding.row()
        assert (row.attempts, row.last_error, row.sent_bonus) == (0, None, 40)
        assert holding.entry.bonus == 40

    async def test_the_back_off_is_capped(self, services: Services) -> None:
        assert wallet_sync.backoff(services, 1) == timedelta(seconds=10)
        assert wallet_sync.backoff(services, 4) == timedelta(seconds=80)
        assert wallet_sync.backoff(services, 40) == timedelta(seconds=600)

    async def test_a_card_deleted_at_wechat_is_parked_until_the_next_change(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        holding.entry.deleted = True  # deleted, the event not arrived yet
        await _earn(services, holding, 15, "p1")
        assert (await drain(services)).outcomes == {"parked": 1}
        row = await holding.row()
        assert row.last_error is not None and "40127" in row.last_error
        assert row.sent_version == row.wanted_version and row.attempts == 1
        assert row.sent_bonus == 0  # what the wallet last took
        assert (await drain(services)).claimed == 0  # no loop
        await _earn(services, holding, 5, "p2")
        assert (await drain(services)).outcomes == {"parked": 1}  # tried again, once
        assert fake_wechat.calls[UPDATE] == 2

    async def test_a_new_entry_the_activation_missed_is_activated_again(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        assert (await drain(services)).outcomes == {"activated": 1}
        # deleted and added again while that activation was in flight: WeChat's new entry is
        # not activated, though the holder says it is
        fresh = dataclasses.replace(holding.entry, activated=False, activations=[], updates=[])
        fake_wechat.wallet[(holding.entry.card_id, holding.entry.code)] = fresh
        await _earn(services, holding, 25, "again-1")
        assert (await drain(services)).outcomes == {"activate_again": 1}
        row = await holding.row()
        assert row.activated_at is None and row.last_error and "40078" in row.last_error
        assert (await drain(services)).outcomes == {"activated": 1}
        assert fresh.activated and fresh.bonus == 25 and len(fresh.activations) == 1
        assert (await holding.row()).last_error is None

    async def test_a_deleted_card_is_not_sent(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await delete_card(services, fake_wechat, holding)
        await _earn(services, holding, 15, "z1")
        assert (await drain(services)).claimed == 0
        assert fake_wechat.calls[UPDATE] == 0


class TestCrashes:
    async def test_a_sender_that_died_after_claiming_is_replaced_when_the_claim_lapses(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        clock = freeze(services, START)
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await _earn(services, holding, 10, "c1")
        assert await wallet_sync.claim(services, holding.holder.id) is not None  # then dies
        await _earn(services, holding, 15, "c2")
        assert (await drain(services)).claimed == 0
        clock.set(START + timedelta(seconds=wallet_sync.CLAIM_SECONDS + 1))
        assert (await drain(services)).outcomes == {"sent": 1}
        assert holding.entry.bonus == 25
        assert [body["bonus"] for body in holding.entry.updates] == [25]

    async def test_a_call_made_but_never_settled_is_sent_again_with_the_latest_state(
        self, services: Services, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        clock = freeze(services, START)
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        await _earn(services, holding, 10, "s1")

        async def killed(*args: Any, **kwargs: Any) -> str:
            raise asyncio.CancelledError  # the process dies between WeChat's answer and settle

        with monkeypatch.context() as patch:
            patch.setattr(wallet_sync, "_sent", killed)
            with pytest.raises(asyncio.CancelledError):
                await drain(services)
        assert [body["bonus"] for body in holding.entry.updates] == [10]
        row = await holding.row()
        assert row.claimed_until is not None and row.sent_version < row.wanted_version
        await _earn(services, holding, 5, "s2")
        clock.set(START + timedelta(seconds=wallet_sync.CLAIM_SECONDS + 1))
        assert (await drain(services)).outcomes == {"sent": 1}
        assert holding.entry.bonus == 15
        assert [body["bonus"] for body in holding.entry.updates] == [10, 15]
        row = await holding.row()
        assert row.sent_version == row.wanted_version and row.claimed_until is None


class TestConcurrency:
    async def test_two_senders_make_one_call_per_member(
        self, services: Services, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Counted where the sender calls the client: the client's own repeat of a request
        whose answer was lost (a timeout on a loaded machine) is one call, not a second send."""
        await define_card(services, fake_wechat)
        holdings = [await add_card(services, fake_wechat) for _ in range(12)]
        sent: Counter[str] = Counter()
        activate = services.official.activate_member_card

        async def counted(body: Mapping[str, Any]) -> None:
            sent[body["code"]] += 1
            await activate(body)

        monkeypatch.setattr(services.official, "activate_member_card", counted)
        fake_wechat.inject(ACTIVATE, delay=0.05, times=12)  # both senders find them due
        first, second = await asyncio.gather(
            wallet_sync.send_due(services, batch_size=12, concurrency=4),
            wallet_sync.send_due(services, batch_size=12, concurrency=4),
        )
        assert first.claimed + second.claimed == 12
        assert sent == Counter({h.holder.code: 1 for h in holdings})
        assert all(len(h.entry.activations) == 1 for h in holdings)

    async def test_a_claim_is_won_once(self, services: Services, fake_wechat: FakeWeChat) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        won = await asyncio.gather(
            *(wallet_sync.claim(services, holding.holder.id) for _ in range(8))
        )
        assert sum(token is not None for token in won) == 1

    async def test_a_thousand_rapid_changes_end_in_a_handful_of_updates(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        await drain(services)
        changes = 1000
        rounds = 0
        done = asyncio.Event()

        async def sender() -> None:  # the scheduled job, every interval
            nonlocal rounds
            while not done.is_set():
                await drain(services)
                rounds += 1
                try:
                    await asyncio.wait_for(
                        done.wait(), services.config.wallet_sync.interval_seconds
                    )
                except TimeoutError:
                    pass

        running = asyncio.create_task(sender())
        for n in range(changes):
            await _earn(services, holding, 1 + n % 3, f"burst-{n}")
        done.set()
        await running
        await drain(services)
        balance = (await Member.get(id=holding.member.id)).points_balance
        calls = len(holding.entry.updates)
        print(
            f"\nwallet sync: {changes} balance changes, {calls} updateuser calls over "
            f"{rounds + 1} sender rounds: coalescing ratio {calls / changes:.4f}"
        )
        assert holding.entry.bonus == balance == sum(1 + n % 3 for n in range(changes))
        assert holding.entry.updates[-1]["bonus"] == balance
        assert calls <= rounds + 1  # at most one call per member per round
        assert calls * 10 <= changes
        row = await holding.row()
        assert row.sent_version == row.wanted_version and row.sent_bonus == balance


class TestBacklog:
    async def test_a_member_s_card_as_their_page_shows_it(
        self, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        other = await create_member()
        assert await member_wallet(other.id) is None
        member_id = holding.member.id
        assert (await member_wallet(member_id) or {})["state"] == "to_activate"
        await drain(services)
        await _earn(services, holding, 7, "page-1")
        assert (await member_wallet(member_id) or {})["state"] == "waiting"
        await drain(services)
        shown = await member_wallet(member_id) or {}
        assert (shown["state"], shown["sent_bonus"], shown["last_error"]) == ("in_step", 7, None)
        await delete_card(services, fake_wechat, holding)
        assert (await member_wallet(member_id) or {})["state"] == "deleted"

    async def test_staff_see_the_backlog_with_the_latest_failures_masked(
        self,
        client: TestClient,
        services: Services,
        fake_wechat: FakeWeChat,
        owner: dict[str, str],
        login_as: StaffLogin,
    ) -> None:
        clock = freeze(services, START)
        await define_card(services, fake_wechat)
        in_step, retrying, parked = [await add_card(services, fake_wechat) for _ in range(3)]
        await drain(services)
        fake_wechat.inject(UPDATE, errcode=45009)
        await _earn(services, retrying, 5, "b2")
        await drain(services)  # the rate limit hits it: retried later
        parked.entry.deleted = True
        await _earn(services, parked, 5, "b1")
        await drain(services)  # refused for good: parked
        response = await client.get(f"{API}/backlog", headers=owner)
        assert response.status == 200, await response.text()
        shown = await response.json()
        WalletSyncShown.model_validate(shown)  # as the API document describes it
        assert {k: shown[k] for k in ("held", "activated", "waiting", "failing")} == {
            "held": 3,
            "activated": 3,
            "waiting": 1,
            "failing": 2,
        }
        assert shown["oldest_waiting_since"] == START.isoformat()
        failures = {failure["member_id"]: failure for failure in shown["latest_failures"]}
        assert set(failures) == {retrying.member.id, parked.member.id}
        retry = failures[retrying.member.id]
        assert retry["card_no"] == mask_card_no(retrying.holder.code)
        assert retry["card_no"][:4] + "********" + retry["card_no"][-4:] == retry["card_no"]
        assert retry["parked"] is False and retry["attempts"] == 1
        assert retry["next_attempt_at"] == (START + timedelta(seconds=10)).isoformat()
        assert "45009" in retry["last_error"]
        gone = failures[parked.member.id]
        assert gone["parked"] is True and gone["next_attempt_at"] is None
        assert "40127" in gone["last_error"]
        assert in_step.member.id not in failures
        clock.set(START + timedelta(seconds=10))
        cashier = await login_as("cashier")
        assert (await client.get(f"{API}/backlog", headers=cashier)).status == 403

    def test_a_card_number_is_masked_in_its_middle(self) -> None:
        assert mask_card_no("8800000000000123") == "8800********0123"


class TestReasons:
    def test_members_read_the_reasons_as_the_console_names_them(self) -> None:
        texts = tomllib.loads(MEMBERS_LOCALE.read_text(encoding="utf-8"))["reason"]
        assert dict(REASON_TEXTS) == texts


class TestFormats:
    """The bodies match wechatpy's requests for the same call, field by field."""

    STATE = MemberCardState(
        card_id=CARD_ID,
        code="8800000000000042",
        bonus=1234,
        tier_name="金卡会员",
        coupons=3,
        record_bonus="消费",
        show_points=True,
        show_tier=True,
        show_coupons=True,
    )

    def test_activate_as_wechatpy_sends_it(self) -> None:
        path, body = wechatpy_request(
            lambda client: client.card.activate_membercard(
                "8800000000000042",
                "8800000000000042",
                card_id=CARD_ID,
                init_bonus=1234,
                init_bonus_record="消费",
                init_custom_field_value1="金卡会员",
                init_custom_field_value2="3",
            ),
            {"errcode": 0, "errmsg": "ok"},
        )
        assert path == ACTIVATE
        assert activate_body(self.STATE) == body

    def test_updateuser_as_wechatpy_sends_it(self) -> None:
        path, body = wechatpy_request(
            lambda client: client.card.update_membercard(
                "8800000000000042",
                CARD_ID,
                bonus=1234,
                record_bonus="消费",
                custom_field_value1="金卡会员",
                custom_field_value2="3",
            ),
            {"errcode": 0, "errmsg": "ok", "result_bonus": 1234, "result_balance": 0},
        )
        assert path == UPDATE
        assert update_user_body(self.STATE) == body

    def test_without_points_shown_no_bonus_is_sent(self) -> None:
        state = dataclasses.replace(self.STATE, show_points=False)
        assert "bonus" not in update_user_body(state)
        assert "init_bonus" not in activate_body(state)


class TestJob:
    async def test_the_scheduled_job_sends_the_due_cards(
        self, services: Services, fake_wechat: FakeWeChat, config: Config
    ) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)

        async def keep_going() -> bool:
            return False

        await sync_wallet_cards(JobContext(services, keep_going))
        assert holding.entry.activated
        trigger = sync_wallet_cards.trigger(config)
        assert isinstance(trigger, IntervalTrigger)
        assert trigger.interval == timedelta(seconds=2)

    async def test_a_run_leaves_a_backlog_to_the_next_runs_past_its_share_of_the_interval(
        self, services: Services, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        services.config = services.config.replace(wallet_sync={"batch_size": 2})
        await define_card(services, fake_wechat)
        holdings = [await add_card(services, fake_wechat) for _ in range(5)]
        seconds = iter(range(0, 1000, 2))  # each look at the clock: an interval later
        monkeypatch.setattr("jobs.wallet_card.monotonic", lambda: float(next(seconds)))

        async def keep_going() -> bool:
            return False

        activated = []
        for _ in range(3):
            await sync_wallet_cards(JobContext(services, keep_going))
            activated.append(sum(holding.entry.activated for holding in holdings))
        assert activated == [2, 4, 5]  # a full batch, then the run's time is up


class TestFakeWallet:
    """The fake WeChat refuses activations and updates as WeChat's card error table says."""

    async def _refused(self, call: Any) -> int:
        with pytest.raises(WeChatInvalidArgument) as refused:
            await call
        return refused.value.errcode

    async def test_refusals(self, services: Services, fake_wechat: FakeWeChat) -> None:
        await define_card(services, fake_wechat)
        holding = await add_card(services, fake_wechat)
        official = services.official
        code = holding.holder.code
        body = {"membership_number": code, "code": code, "card_id": CARD_ID}
        unknown_card = body | {"card_id": "pNoSuchCard"}
        assert await self._refused(official.activate_member_card(unknown_card)) == 40056
        never_added = body | {"code": "8800999999999999", "membership_number": "8800999999999999"}
        assert await self._refused(official.activate_member_card(never_added)) == 40056
        update = {"code": code, "card_id": CARD_ID, "bonus": 5}
        assert await self._refused(official.update_member_card_user(update)) == 40078
        await official.activate_member_card(body)
        answer = await official.update_member_card_user(update)
        assert answer == {"result_bonus": 5, "result_balance": 0, "openid": holding.entry.openid}
        holding.entry.deleted = True
        assert await self._refused(official.update_member_card_user(update)) == 40127
        assert await self._refused(official.activate_member_card(body)) == 40127
        assert [len(holding.entry.activations), len(holding.entry.updates)] == [1, 1]
