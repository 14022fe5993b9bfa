"""Imported growth seeds the tier period: the next retention evaluation judges members on it."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.tiers.growth import evaluate_tiers
from tests.factories import entry_tier
from tests.member_import.kit import NOW, card, file_of, row, run, staff
from tests.support.localtime import freeze
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier

# 1 January 2026, 03:00 in Shanghai: the calendar year 2025 is due.
NEW_YEAR = datetime(2025, 12, 31, 19, 0, tzinfo=UTC)


async def _ladder() -> None:
    await entry_tier()
    await Tier.create(
        name="金卡会员", level=2, color="#D4A017", growth_threshold=5000, retention_threshold=4000
    )


async def _tier_of(n: int) -> str:
    member = await Member.get(card_no=card(n)).prefetch_related("tier")
    assert member.tier is not None
    return member.tier.name


class TestImportedGrowthAtTheNextEvaluation:
    async def test_period_growth_at_retention_keeps_the_tier_and_below_it_does_not(
        self, services: Services
    ) -> None:
        await _ladder()
        clock = freeze(services, NOW)
        text = file_of(
            row(1, tier="金卡会员", growth_total=90000, period_growth=4000),
            row(2, tier="金卡会员", growth_total=90000, period_growth=3999),
        )
        await run(services, await staff(), text)
        clock.set(NEW_YEAR)
        report = await evaluate_tiers(services)
        assert (report.period_key, report.checked, report.downgraded) == (
            "calendar_year:2025-12-31",
            2,
            1,
        )
        assert [await _tier_of(1), await _tier_of(2)] == ["金卡会员", "普通会员"]

    async def test_lifetime_growth_outside_the_period_does_not_count(
        self, services: Services
    ) -> None:
        await _ladder()
        clock = freeze(services, NOW)
        text = file_of(row(1, tier="金卡会员", growth_total=90000, period_growth=0))
        await run(services, await staff(), text)
        assert (await Member.get(card_no=card(1))).growth_total == 90000
        clock.set(NEW_YEAR)
        await evaluate_tiers(services)
        assert await _tier_of(1) == "普通会员"

    async def test_members_imported_after_the_period_closed_are_left_to_the_next_one(
        self, services: Services
    ) -> None:
        await _ladder()
        freeze(services, NEW_YEAR)
        await run(services, await staff(), file_of(row(1, tier="金卡会员", period_growth=0)))
        report = await evaluate_tiers(services)
        assert (report.checked, report.skipped, report.downgraded) == (0, 1, 0)
        assert await _tier_of(1) == "金卡会员"
