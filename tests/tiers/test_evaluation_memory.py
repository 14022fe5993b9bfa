"""Evaluation memory is bounded by the batch size, not by the number of members."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from handlers.tiers.growth import evaluate_tiers
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.growth import MemberPeriodGrowth
from wxmember.core.models.members import Member
from wxmember.core.models.tier_history import EvaluationRun, TierChange
from wxmember.core.models.tiers import Tier

NEW_YEAR = datetime(2025, 12, 31, 19, 0, tzinfo=UTC)
BATCH = 250
CHUNK = 5000


async def _add_members(count: int, gold: Tier) -> None:
    """Gold members; every other one grew enough in 2025 to keep the tier."""
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        first = (await Member.all().order_by("-id").first().values_list("id", flat=True)) or 0
        await Member.bulk_create([Member(tier_id=gold.id) for _ in range(size)])
        ids = await Member.filter(id__gt=first).values_list("id", flat=True)
        await MemberPeriodGrowth.bulk_create(
            [MemberPeriodGrowth(member_id=i, period="2025-05", total=4500) for i in ids[::2]]
        )


async def _evaluate_peak(services: Services) -> tuple[int, int]:
    """Peak bytes allocated while evaluating, and the members downgraded."""
    tracemalloc.start()
    try:
        report = await evaluate_tiers(services, batch_size=BATCH)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.status == "finished"
    return peak, report.downgraded


async def _reset(gold: Tier) -> None:
    await TierChange.all().delete()
    await EvaluationRun.all().delete()
    await Member.all().update(tier_id=gold.id)


@pytest.mark.slow
async def test_memory_depends_on_batch_size_not_member_count(
    services: Services, ladder: dict[str, Tier]
) -> None:
    services.clock = FrozenClock(NEW_YEAR)
    gold = ladder["gold"]
    started = time.monotonic()
    await _add_members(2_000, gold)
    small_peak, small_downgraded = await _evaluate_peak(services)
    await _reset(gold)
    await _add_members(18_000, gold)
    large_peak, large_downgraded = await _evaluate_peak(services)
    print(
        f"\nevaluation peak: 2k members {small_peak / 1e6:.1f} MB, "
        f"20k members {large_peak / 1e6:.1f} MB, total {time.monotonic() - started:.0f} s"
    )
    assert (small_downgraded, large_downgraded) == (1_000, 10_000)
    assert await Member.filter(tier_id=ladder["silver"].id).count() == 10_000
    # Ten times the members, about the same peak: what one batch holds, not the whole table.
    assert large_peak < small_peak * 1.5
    assert large_peak < BATCH * 4_000
