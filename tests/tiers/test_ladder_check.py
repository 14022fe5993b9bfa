"""Checking a tier against the ladder's rules before saving it (the console's inline check)."""

from __future__ import annotations

import pytest

from handlers.tiers.ladder import check_change
from wxmember.core.errors import TierNotFound, ValidationFailed
from wxmember.core.models.tiers import Tier


class TestCheckChange:
    async def test_a_new_tier_that_keeps_every_rule_passes_and_nothing_is_written(
        self, ladder: dict[str, Tier]
    ) -> None:
        await check_change({"name": "黑金会员", "level": 4, "growth_threshold": 50_000})
        assert await Tier.all().count() == 4

    async def test_a_new_tier_below_the_tier_under_it_is_refused(
        self, ladder: dict[str, Tier]
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await check_change({"name": "黑金会员", "level": 4, "growth_threshold": 100})
        assert refused.value.code == "thresholds_not_increasing"

    async def test_an_edit_is_checked_against_the_rest_of_the_ladder(
        self, ladder: dict[str, Tier]
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await check_change({"level": 2}, ladder["silver"].id)
        assert refused.value.code == "duplicate_level"
        assert (await Tier.get(id=ladder["silver"].id)).level == 1

    async def test_an_edit_that_keeps_every_rule_passes(self, ladder: dict[str, Tier]) -> None:
        await check_change({"growth_threshold": 1500, "name": "银卡"}, ladder["silver"].id)

    async def test_a_tier_that_is_not_there_is_not_found(self, ladder: dict[str, Tier]) -> None:
        with pytest.raises(TierNotFound):
            await check_change({"level": 9}, 999_999)
