"""The dashboard: daily figures stored by a job (days), today live, periods read for staff."""

from __future__ import annotations

from handlers.dashboard.days import (
    BackfillReport,
    backfill,
    day_bounds,
    figures_of,
    first_day,
    store_day,
)
from handlers.dashboard.overview import (
    PERIODS,
    SERIES,
    Period,
    Table,
    TemplateUse,
    check_period,
    period,
    table,
    today_figures,
)

__all__ = [
    "PERIODS",
    "SERIES",
    "BackfillReport",
    "Period",
    "Table",
    "TemplateUse",
    "backfill",
    "check_period",
    "day_bounds",
    "figures_of",
    "first_day",
    "period",
    "store_day",
    "table",
    "today_figures",
]
