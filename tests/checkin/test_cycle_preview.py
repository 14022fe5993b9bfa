"""What each day of the streak cycle earns, as operators preview rules before saving them."""

from __future__ import annotations

from handlers.checkin.preview import cycle_preview
from handlers.checkin.rules import DEFAULT_RULES, CheckinRules, StreakBonus


class TestCyclePreview:
    def test_each_day_of_the_cycle_has_the_base_and_its_bonus(self) -> None:
        days = cycle_preview(DEFAULT_RULES)
        assert [day.day for day in days] == [1, 2, 3, 4, 5, 6, 7]
        assert [day.points for day in days] == [5, 5, 10, 5, 5, 5, 25]
        assert days[6].bonus_points == 20

    def test_the_preview_is_as_long_as_the_cycle(self) -> None:
        rules = CheckinRules(base_points=2, cycle_days=3, bonuses=(StreakBonus(day=3, points=1),))
        assert [day.points for day in cycle_preview(rules)] == [2, 2, 3]

    def test_disabled_rules_earn_nothing(self) -> None:
        rules = DEFAULT_RULES.model_copy(update={"enabled": False})
        assert {day.points for day in cycle_preview(rules)} == {0}
