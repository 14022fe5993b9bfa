"""Growth: the ledger, period totals, upgrades at once, upgrade gifts, refunds, the multiplier."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from handlers import points
from handlers.tiers.growth import add_growth, multiplier_percent
from tests.factories import create_member
from tests.tiers.conftest import MemberIn
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, ValidationFailed
from wxmember.core.models.growth import GrowthEntry, MemberPeriodGrowth
from wxmember.core.models.members import Member
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.tier_history import TierChange
from wxmember.core.models.tiers import Tier

pytestmark = pytest.mark.usefixtures("clock")


async def _buckets(member_id: int) -> dict[str, int]:
    rows = await MemberPeriodGrowth.filter(member_id=member_id).values_list("period", "total")
    return dict(rows)


class TestAddGrowth:
    async def test_purchase_is_recorded_in_the_ledger_and_totals(
        self, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in()
        result = await add_growth(
            services, member.id, 500, reason="purchase", idempotency_key="p-1", reference="O-1"
        )
        assert not result.replayed and not result.upgraded
        assert (result.growth_total, result.period_growth) == (500, 500)
        entry = await GrowthEntry.get(idempotency_key="p-1")
        assert (entry.amount, entry.reason, entry.reference, entry.period) == (
            500,
            "purchase",
            "O-1",
            "2025-06",
        )
        assert (await Member.get(id=member.id)).growth_total == 500
        assert await _buckets(member.id) == {"2025-06": 500}

    async def test_same_key_twice_changes_nothing(
        self, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in()
        first = await add_growth(services, member.id, 700, reason="purchase", idempotency_key="k")
        again = await add_growth(services, member.id, 700, reason="purchase", idempotency_key="k")
        assert again.replayed and again.entry.id == first.entry.id
        assert again.growth_total == 700
        assert await GrowthEntry.filter(member_id=member.id).count() == 1
        assert await _buckets(member.id) == {"2025-06": 700}

    @pytest.mark.parametrize("other", ["member", "amount"])
    async def test_key_reused_for_another_change_is_409(
        self, services: Services, member_in: MemberIn, other: str
    ) -> None:
        member, second = await member_in(), await member_in()
        await add_growth(services, member.id, 700, reason="purchase", idempotency_key="k")
        target, amount = (second.id, 700) if other == "member" else (member.id, 800)
        with pytest.raises(Conflict) as raised:
            await add_growth(services, target, amount, reason="purchase", idempotency_key="k")
        assert raised.value.code == "idempotency_key_reused"

    async def test_same_key_for_two_members_at_once_one_wins(
        self, services: Services, member_in: MemberIn
    ) -> None:
        first, second = await member_in(), await member_in()
        results = await asyncio.gather(
            *(
                add_growth(services, m.id, 100, reason="purchase", idempotency_key="k")
                for m in (first, second)
            ),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1 and refused[0].code == "idempotency_key_reused"
        assert await GrowthEntry.all().count() == 1
        assert sorted(await Member.all().values_list("growth_total", flat=True)) == [0, 100]

    async def test_unknown_member_is_404(self, services: Services, ladder: dict) -> None:
        with pytest.raises(NotFound) as raised:
            await add_growth(services, 999, 10, reason="purchase", idempotency_key="k")
        assert raised.value.code == "member_not_found"

    async def test_reference_too_long_is_400(self, services: Services, member_in: MemberIn) -> None:
        member = await member_in()
        with pytest.raises(ValidationFailed) as raised:
            await add_growth(
                services, member.id, 1, reason="purchase", idempotency_key="k", reference="r" * 65
            )
        assert raised.value.code == "invalid_reference"

    @pytest.mark.parametrize(
        ("amount", "reason", "key", "code"),
        [
            (10, "", "k", "invalid_reason"),
            (10, "x" * 33, "k", "invalid_reason"),
            (10, "purchase", "", "invalid_idempotency_key"),
            (10, "purchase", "k" * 129, "invalid_idempotency_key"),
            (1.5, "purchase", "k", "invalid_amount"),
            (True, "purchase", "k", "invalid_amount"),
            (100_000_001, "purchase", "k", "invalid_amount"),
            (-100_000_001, "refund", "k", "invalid_amount"),
        ],
    )
    async def test_bad_arguments_are_400(
        self,
        services: Services,
        member_in: MemberIn,
        amount: object,
        reason: str,
        key: str,
        code: str,
    ) -> None:
        member = await member_in()
        with pytest.raises(ValidationFailed) as raised:
            await add_growth(services, member.id, amount, reason=reason, idempotency_key=key)  # type: ignore[arg-type]
        assert raised.value.code == code

    async def test_months_are_kept_apart_and_the_period_sums_them(
        self, services: Services, clock: FrozenClock, member_in: MemberIn
    ) -> None:
        member = await member_in()
        clock.set(datetime(2025, 1, 31, 17, 0, tzinfo=UTC))  # 1 February in Shanghai
        await add_growth(services, member.id, 300, reason="purchase", idempotency_key="a")
        clock.set(datetime(2025, 6, 15, 4, 0, tzinfo=UTC))
        result = await add_growth(services, member.id, 400, reason="purchase", idempotency_key="b")
        assert await _buckets(member.id) == {"2025-02": 300, "2025-06": 400}
        assert result.period_growth == 700

    async def test_member_without_a_card_collects_growth_without_a_tier(
        self, services: Services, ladder: dict
    ) -> None:
        member = await create_member(with_card=False)
        result = await add_growth(services, member.id, 6000, reason="purchase", idempotency_key="k")
        assert result.tier_id is None and not result.upgraded
        assert (await Member.get(id=member.id)).tier_id is None


class TestUpgrade:
    async def test_one_purchase_jumps_two_tiers(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        result = await add_growth(services, member.id, 6000, reason="purchase", idempotency_key="k")
        assert result.upgraded and result.tier_id == ladder["gold"].id
        stored = await Member.get(id=member.id)
        assert stored.tier_id == ladder["gold"].id
        assert stored.card_version == member.card_version + 1
        changes = await TierChange.filter(member_id=member.id)
        assert [(c.from_name, c.to_name, c.reason, c.growth) for c in changes] == [
            ("普通会员", "金卡会员", "upgrade", 6000)
        ]

    async def test_gifts_of_every_tier_reached_are_granted(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        await add_growth(services, member.id, 6000, reason="purchase", idempotency_key="k")
        gifts = await PointsEntry.filter(member_id=member.id).order_by("id")
        assert [(g.amount, g.idempotency_key) for g in gifts] == [
            (100, f"tier-upgrade:{member.id}:{ladder['silver'].id}"),
            (300, f"tier-upgrade:{member.id}:{ladder['gold'].id}"),
        ]
        assert (await Member.get(id=member.id)).points_balance == 400

    async def test_reaching_the_threshold_exactly_upgrades(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        await add_growth(services, member.id, 999, reason="purchase", idempotency_key="a")
        assert (await Member.get(id=member.id)).tier_id == ladder["entry"].id
        result = await add_growth(services, member.id, 1, reason="purchase", idempotency_key="b")
        assert result.tier_id == ladder["silver"].id

    async def test_growth_of_an_earlier_period_does_not_count(
        self, services: Services, clock: FrozenClock, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        clock.set(datetime(2024, 12, 20, 4, 0, tzinfo=UTC))
        await add_growth(services, member.id, 900, reason="purchase", idempotency_key="a")
        clock.set(datetime(2025, 1, 5, 4, 0, tzinfo=UTC))
        result = await add_growth(services, member.id, 200, reason="purchase", idempotency_key="b")
        assert (result.period_growth, result.growth_total) == (200, 1100)
        assert result.tier_id == ladder["entry"].id

    async def test_rolling_period_counts_the_last_twelve_months(
        self, services: Services, clock: FrozenClock, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        services.config = services.config.replace(tiers={"period": "rolling_12_months"})
        member = await member_in()
        clock.set(datetime(2024, 7, 10, 4, 0, tzinfo=UTC))
        await add_growth(services, member.id, 900, reason="purchase", idempotency_key="a")
        clock.set(datetime(2025, 6, 15, 4, 0, tzinfo=UTC))
        result = await add_growth(services, member.id, 200, reason="purchase", idempotency_key="b")
        assert result.period_growth == 1100 and result.tier_id == ladder["silver"].id
        clock.set(datetime(2025, 7, 15, 4, 0, tzinfo=UTC))  # July 2024 has left the window
        later = await add_growth(services, member.id, 1, reason="purchase", idempotency_key="c")
        assert later.period_growth == 201

    async def test_gift_is_granted_once_per_tier_for_life(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        await add_growth(services, member.id, 1000, reason="purchase", idempotency_key="a")
        await Member.filter(id=member.id).update(tier_id=ladder["entry"].id)
        await add_growth(services, member.id, 10, reason="purchase", idempotency_key="b")
        assert (await Member.get(id=member.id)).tier_id == ladder["silver"].id
        assert await TierChange.filter(member_id=member.id).count() == 2
        assert (await Member.get(id=member.id)).points_balance == 100

    async def test_no_upgrade_below_the_current_tier(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in("gold")
        result = await add_growth(services, member.id, 1500, reason="purchase", idempotency_key="k")
        assert result.tier_id == ladder["gold"].id and not result.upgraded
        assert (await Member.get(id=member.id)).card_version == member.card_version

    async def test_concurrent_purchases_upgrade_once(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        await asyncio.gather(
            *(
                add_growth(services, member.id, 250, reason="purchase", idempotency_key=f"k{i}")
                for i in range(24)
            )
        )
        stored = await Member.get(id=member.id)
        assert stored.growth_total == 6000 and stored.tier_id == ladder["gold"].id
        assert await _buckets(member.id) == {"2025-06": 6000}
        changes = await TierChange.filter(member_id=member.id).order_by("id")
        assert [c.to_name for c in changes] == ["银卡会员", "金卡会员"]
        assert stored.card_version == member.card_version + 2
        assert stored.points_balance == 400

    async def test_rolled_back_with_the_callers_transaction(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        from tortoise.transactions import in_transaction

        from wxmember.core.kernel import lock_member

        member = await member_in()
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                account = await lock_member(conn, member.id)
                await add_growth(services, account, 6000, reason="purchase", idempotency_key="k")
                raise RuntimeError("the purchase failed later on")
        stored = await Member.get(id=member.id)
        assert (stored.tier_id, stored.growth_total, stored.points_balance) == (
            ladder["entry"].id,
            0,
            0,
        )
        assert not await GrowthEntry.exists() and not await TierChange.exists()


class TestRefund:
    async def test_refund_takes_growth_back_without_a_downgrade(
        self, services: Services, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        member = await member_in()
        await add_growth(services, member.id, 6000, reason="purchase", idempotency_key="p")
        result = await add_growth(
            services, member.id, -3000, reason="refund", idempotency_key="r", reference="O-1"
        )
        assert (result.period_growth, result.growth_total) == (3000, 3000)
        assert result.tier_id == ladder["gold"].id and not result.upgraded
        assert (await Member.get(id=member.id)).tier_id == ladder["gold"].id
        assert await TierChange.filter(member_id=member.id).count() == 1
        assert await _buckets(member.id) == {"2025-06": 3000}


class TestMultiplier:
    async def test_multiplier_of_the_members_tier(
        self, member_in: MemberIn, ladder: dict[str, Tier]
    ) -> None:
        assert await multiplier_percent(await member_in()) == 100
        gold = await member_in("gold")
        assert await multiplier_percent(gold) == 125
        loaded = await Member.get(id=gold.id).prefetch_related("tier")
        assert await multiplier_percent(loaded) == 125
        assert await multiplier_percent(await create_member(with_card=False)) == 100

    async def test_upgrade_multiplier_applies_from_the_next_purchase(
        self, services: Services, member_in: MemberIn
    ) -> None:
        member = await member_in()

        async def purchase(order_no: str, yuan: int) -> int:
            current = await Member.get(id=member.id)
            earned = yuan * await multiplier_percent(current) // 100
            await points.earn(
                services, member.id, earned, reason="purchase", idempotency_key=f"pts:{order_no}"
            )
            await add_growth(
                services, member.id, yuan, reason="purchase", idempotency_key=f"gr:{order_no}"
            )
            return earned

        assert await purchase("O-1", 6000) == 6000  # earned at x1, then upgraded to gold
        assert await purchase("O-2", 100) == 125  # gold's x1.25 from the next purchase on
