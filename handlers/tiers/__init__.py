"""Tiers and growth: the ladder, growth in, upgrades at once, retention at evaluation, the tier
view.
"""

from __future__ import annotations

from handlers.tiers.growth import (
    EvaluationReport,
    GrowthResult,
    TierOverview,
    add_growth,
    entry_tier,
    evaluate_tiers,
    evaluation_runs,
    move_member,
    multiplier_percent,
    period_growth,
    tier_changes,
    tier_overview,
)

__all__ = [
    "EvaluationReport",
    "GrowthResult",
    "TierOverview",
    "add_growth",
    "entry_tier",
    "evaluate_tiers",
    "evaluation_runs",
    "move_member",
    "multiplier_percent",
    "period_growth",
    "tier_changes",
    "tier_overview",
]
