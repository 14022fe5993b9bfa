"""What a rule set pays on each day of its cycle, as operators see it before saving the rules."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.checkin.rules import CheckinRules


@dataclass(frozen=True)
class CycleDay:
    """One day of the streak cycle: the base points, the streak bonus, their sum."""

    day: int
    base_points: int
    bonus_points: int

    @property
    def points(self) -> int:
        return self.base_points + self.bonus_points


def cycle_preview(rules: CheckinRules) -> list[CycleDay]:
    """Each day of the cycle with the points a check-in earns on it (none while disabled)."""
    if not rules.enabled:
        return [CycleDay(day, 0, 0) for day in range(1, rules.cycle_days + 1)]
    return [
        CycleDay(day, rules.base_points, rules.bonus_for(day))
        for day in range(1, rules.cycle_days + 1)
    ]
