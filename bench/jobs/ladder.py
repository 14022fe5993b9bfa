"""The tier ladder of the benchmarks: the demo's four tiers, and how members spread over them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from wxmember.core.config import Config
from wxmember.core.models.tiers import Tier
from wxmember.demo import seeds

# Share of card holders in each tier, entry tier first.
TIER_WEIGHTS = (0.55, 0.25, 0.15, 0.05)


@dataclass(frozen=True)
class Rung:
    """What the seeders need of a tier."""

    id: int
    name: str
    level: int
    growth_threshold: int
    retention_threshold: int


async def seed_ladder(config: Config) -> list[Rung]:
    """The demo ladder, created through the same validation as the admin API (Tortoise open)."""
    await seeds.seed_ladder()
    return [
        Rung(t.id, t.name, t.level, t.growth_threshold, t.retention_threshold)
        for t in await Tier.all().order_by("level")
    ]


def pick_tier(rng: random.Random, ladder: Sequence[Rung]) -> int:
    """The index in the ladder of a card holder's tier."""
    return rng.choices(range(len(ladder)), weights=TIER_WEIGHTS[: len(ladder)])[0]


def retention_target(ladder: Sequence[Rung], index: int, growth: int, max_levels: int) -> int:
    """The ladder index a member keeps or drops to after an evaluation (DESIGN's retention)."""
    if growth >= ladder[index].retention_threshold:
        return index
    lowest = max(0, index - max_levels)
    for candidate in range(index - 1, lowest - 1, -1):
        if ladder[candidate].retention_threshold <= growth:
            return candidate
    return lowest
