"""Evaluation periods: which twelve months count and when they are judged."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.tiers.periods import current_period, last_closed_period, month_key, period_ending
from wxmember.core.errors import ValidationFailed


class TestPeriods:
    @pytest.mark.parametrize(
        ("kind", "today", "start", "end", "evaluation"),
        [
            (
                "calendar_year",
                date(2025, 6, 15),
                date(2025, 1, 1),
                date(2025, 12, 31),
                "2026-01-01",
            ),
            (
                "rolling_12_months",
                date(2025, 2, 10),
                date(2024, 3, 1),
                date(2025, 2, 28),
                "2025-03-01",
            ),
            (
                "rolling_12_months",
                date(2024, 2, 29),
                date(2023, 3, 1),
                date(2024, 2, 29),
                "2024-03-01",
            ),
            (
                "rolling_12_months",
                date(2025, 12, 31),
                date(2025, 1, 1),
                date(2025, 12, 31),
                "2026-01-01",
            ),
        ],
    )
    def test_current_period(
        self, kind: str, today: date, start: date, end: date, evaluation: str
    ) -> None:
        period = current_period(kind, today)  # type: ignore[arg-type]
        assert (period.start, period.end) == (start, end)
        assert period.evaluation_date.isoformat() == evaluation
        assert (period.first_month, period.last_month) == (month_key(start), month_key(end))

    @pytest.mark.parametrize(
        ("kind", "today", "key"),
        [
            ("calendar_year", date(2026, 1, 1), "calendar_year:2025-12-31"),
            ("calendar_year", date(2026, 7, 9), "calendar_year:2025-12-31"),
            ("rolling_12_months", date(2026, 1, 1), "rolling_12_months:2025-12-31"),
            ("rolling_12_months", date(2024, 3, 1), "rolling_12_months:2024-02-29"),
        ],
    )
    def test_last_closed_period(self, kind: str, today: date, key: str) -> None:
        assert last_closed_period(kind, today).key == key  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("kind", "end"),
        [
            ("calendar_year", date(2025, 12, 30)),
            ("calendar_year", date(2025, 6, 30)),
            ("rolling_12_months", date(2025, 2, 27)),
            ("rolling_12_months", date(2025, 3, 1)),
        ],
    )
    def test_no_period_ends_that_day(self, kind: str, end: date) -> None:
        with pytest.raises(ValidationFailed) as raised:
            period_ending(kind, end)  # type: ignore[arg-type]
        assert raised.value.code == "invalid_period_end"
