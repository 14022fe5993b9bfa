"""数据概览: today's figures, and the last 30 or 90 days as charts, each with its CSV; the
members' RFM segments and how they moved between the last two monthly snapshots.

The page shows figure cards and an empty chart box per series; `console/static/dashboard.js`
fetches the numbers from `/console/dashboard/data.json` (the URL is in the page's
`data-source`) and draws them with ECharts, numbers on hover. Every chart has a CSV of the same
numbers at `/console/dashboard/<series>.csv`, and the coupon templates' table has one too. The
period switch is a pair of links (`?days=30`, `?days=90`); with htmx they swap the dashboard in
place and the script draws the new charts.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from console.i18n import translate as t
from console.pages import Pages, render
from console.views.stores import dashboard_store
from handlers import dashboard, segments
from handlers.operators.permissions import Area
from wxmember.core import keys
from wxmember.core.context import Services

pages = Pages()

# What the cards show: today's figures, and the period's totals of the flows.
TODAY_FIGURES = (
    "members",
    "new_cards",
    "active_members",
    "checkins",
    "points_issued",
    "points_spent",
    "points_liability",
    "coupons_claimed",
    "coupons_redeemed",
    "mall_redemptions",
    "followers",
)
TEMPLATES_SERIES = "coupon-templates"


@dataclass(frozen=True)
class Chart:
    """How a series is drawn: each column as a line or a bar, on the left or right axis."""

    name: str
    bars: tuple[str, ...] = ()  # columns drawn as bars (the rest are lines)
    right: tuple[str, ...] = ()  # columns on the right-hand axis
    stack: bool = False
    area: bool = False


CHARTS = (
    Chart("members", bars=("new_cards",), right=("new_cards",)),
    Chart("active", bars=("active_members",)),
    Chart("checkins", bars=("checkins",)),
    Chart("points", bars=("points_issued", "points_spent", "points_expired")),
    Chart("liability", area=True),
    Chart("coupons", bars=("coupons_claimed", "coupons_redeemed")),
    Chart("mall", bars=("mall_redemptions",)),
    Chart("tiers", stack=True, area=True),
    Chart("reminders", bars=tuple(dashboard.SERIES["reminders"]), stack=True),
    Chart("followers", bars=("new_followers", "unfollows"), right=("new_followers", "unfollows")),
)
CHART_NAMES = {chart.name: chart for chart in CHARTS}
# Reminder outcomes in the colours people read them by; tiers come in their own colours.
STATE_COLOURS = {
    "claimed": "#60a5fa",
    "sending": "#f59e0b",
    "sent": "#059669",
    "skipped": "#9ca3af",
    "failed": "#dc2626",
}


def _services(request: web.Request) -> Services:
    return request.config_dict[keys.SERVICES]


def _days(request: web.Request) -> int:
    raw = request.query.get("days", "")
    return dashboard.check_period(int(raw) if raw.isdigit() and len(raw) <= 3 else 0)


def _number(value: int) -> str:
    return f"{value:,}"


def _rate(use: dashboard.TemplateUse) -> str:
    return "—" if use.rate is None else f"{use.rate:.1%}"


@dataclass(frozen=True)
class MoveRow:
    """A row of the movement table: members from one segment, per segment they moved to."""

    source: str  # "" for members not in the previous snapshot
    cells: list[int]
    total: int


async def _rfm(request: web.Request) -> dict[str, Any]:
    """The segment sizes of the latest RFM run and the latest month's moves between segments."""
    sizes = await segments.sizes_now()
    moved = await segments.movement()
    codes = [str(segment) for segment in segments.Segment]
    total = sizes.total
    rows = []
    for source in ["", *codes]:
        cells = [moved.moves.get((source, to), 0) for to in codes]
        if any(cells):
            rows.append(MoveRow(source, cells, sum(cells)))
    return {
        "rfm_day": sizes.day.isoformat() if sizes.day else None,
        "rfm_sizes": [
            (
                code,
                _number(sizes.counts.get(code, 0)),
                f"{sizes.counts.get(code, 0) / total:.1%}" if total else "—",
            )
            for code in codes
        ],
        "rfm_total": _number(total),
        "rfm_codes": codes,
        "rfm_month": moved.month.isoformat()[:7] if moved.month else None,
        "rfm_previous_month": moved.previous_month.isoformat()[:7]
        if moved.previous_month
        else None,
        "rfm_moves": rows,
        "rfm_trend": [
            (month.isoformat()[:7], [_number(counts.get(code, 0)) for code in codes])
            for month, counts in await segments.monthly_sizes()
        ],
    }


def _column_label(found: dashboard.Period, series: str, column: str) -> str:
    if column == "day":
        return t("dashboard.columns.day")
    if series == "tiers":
        return {key: name for key, name, _ in found.tiers}.get(column, column)
    if series == "reminders":
        return t(f"dashboard.states.{column}")
    return t(f"dashboard.figures.{column}")


def _colour(found: dashboard.Period, series: str, column: str) -> str | None:
    if series == "tiers":
        return {key: colour for key, _, colour in found.tiers}.get(column) or None
    if series == "reminders":
        return STATE_COLOURS.get(column)
    return None


@pages.get("/dashboard", area=Area.DASHBOARD)
async def overview(request: web.Request) -> web.StreamResponse:
    """Today's figures, the period's totals, and a chart box per series."""
    days = _days(request)
    found = await dashboard.period(_services(request), days)
    today = found.today
    totals = found.totals()
    return render(
        request,
        "dashboard/index.html",
        days=days,
        periods=dashboard.PERIODS,
        day=today.day.isoformat(),
        today=[(key, _number(int(getattr(today, key)))) for key in TODAY_FIGURES],
        totals=[(key, _number(value)) for key, value in totals.items()],
        charts=[chart.name for chart in CHARTS],
        templates=[(use, _rate(use)) for use in found.templates],
        templates_series=TEMPLATES_SERIES,
        **await _rfm(request),
        **await dashboard_store(request, days),
    )


@pages.get("/dashboard/data.json", area=Area.DASHBOARD)
async def chart_data(request: web.Request) -> web.StreamResponse:
    """The numbers of every chart of the period, with their labels, for dashboard.js."""
    found = await dashboard.period(_services(request), _days(request))
    charts: dict[str, Any] = {}
    for chart in CHARTS:
        table = dashboard.table(found, chart.name)
        charts[chart.name] = {
            "title": t(f"dashboard.charts.{chart.name}"),
            "stack": chart.stack,
            "series": [
                {
                    "key": column,
                    "name": _column_label(found, chart.name, column),
                    "type": "bar" if column in chart.bars else "line",
                    "axis": 1 if column in chart.right else 0,
                    "area": chart.area,
                    "color": _colour(found, chart.name, column),
                    "data": [row[index] for row in table.rows],
                }
                for index, column in enumerate(table.columns)
                if column != "day"
            ],
        }
    return web.json_response({"days": [day.isoformat() for day in found.days], "charts": charts})


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    # A byte order mark, so that spreadsheet programs read the Chinese headers as UTF-8.
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="dashboard-{name}.csv"'},
    )


@pages.get("/dashboard/{series}.csv", area=Area.DASHBOARD)
async def series_csv(request: web.Request, series: str) -> web.StreamResponse:
    """One chart's numbers per day (or the coupon templates' table) as CSV, with a header."""
    if series != TEMPLATES_SERIES and series not in CHART_NAMES:
        raise web.HTTPNotFound()
    days = _days(request)
    found = await dashboard.period(_services(request), days)
    if series == TEMPLATES_SERIES:
        header = [t(f"dashboard.templates.{key}") for key in ("template", "claimed", "redeemed")]
        header.append(t("dashboard.templates.rate"))
        rows: list[list[Any]] = [
            [use.title, use.claimed, use.redeemed, "" if use.rate is None else f"{use.rate:.4f}"]
            for use in found.templates
        ]
        return _csv(f"{series}-{days}d", header, rows)
    table = dashboard.table(found, series)
    header = [_column_label(found, series, column) for column in table.columns]
    return _csv(f"{series}-{days}d", header, table.rows)
