"""提醒 · 发送记录: the delivery log (by rule, state and day) and deliveries per day and state.

The chart is drawn by console/static/reminders.js from `daily.json`; `daily.csv` is the same
numbers for a spreadsheet. Both come from `handlers.reminders.reports.daily_counts`.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import Field

from console.i18n import catalogue
from console.pages import Pages, render
from console.reminder_form import problem
from console.views.reminders import query_of
from handlers.operators.permissions import Area
from handlers.reminders import reports
from handlers.reminders.rules import list_rules
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import MAX_ID, Cursor, IsoDate, Query, QueryInt, encode_cursor
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import DeliveryState

pages = Pages()

PAGE_SIZE = 50
CHART_DAYS = 14
RuleId = Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)]


class DeliveriesQuery(Query):
    rule_id: RuleId = None
    state: DeliveryState | None = None
    date: IsoDate | None = None
    cursor: Cursor | None = None


class SeriesQuery(Query):
    rule_id: RuleId = None
    end: IsoDate | None = None


def _local(services: Services, value: Any) -> str:
    return value.astimezone(services.config.brand.tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _text(prefix: str, code: str | None) -> str:
    """A state, reason or gift state in words; an unknown code as it is."""
    if not code:
        return ""
    texts = catalogue()
    base = code.partition(":")[0]  # invalid_value:thing3
    return texts.get(f"reminders.{prefix}.{code}") or texts.get(f"reminders.{prefix}.{base}", code)


async def _rule_names() -> dict[int, str]:
    rules = await list_rules(None, 100)
    return {rule.id: rule.name for rule in rules}


@pages.get("/reminders/deliveries", area=Area.REMINDERS)
async def deliveries(request: web.Request) -> web.StreamResponse:
    """Reminder deliveries, newest first, by rule, state and send day; the per-day chart."""
    services = request.config_dict[keys.SERVICES]
    errors: dict[str, str] = {}
    try:
        query = query_of(request, DeliveriesQuery)
    except ValidationFailed as exc:
        field = str(exc.details.get("field", "form")).split(".")[0]
        errors[field] = problem(exc.code)
        query = DeliveriesQuery()
    rows = await reports.list_deliveries(
        rule_id=query.rule_id,
        state=query.state,
        day=query.date,
        before_id=query.cursor,
        limit=PAGE_SIZE,
    )
    shown = rows[:PAGE_SIZE]
    names = await _rule_names()
    items = [
        {
            "id": row.id,
            "created_at": _local(services, row.created_at),
            "rule": names.get(row.rule_id, f"#{row.rule_id}"),
            "member_id": row.member_id,
            "occasion": row.occasion,
            "day": row.day.isoformat(),
            "state": DeliveryState(row.state).value,
            "reason": _text("reasons", row.reason),
            "attempts": row.attempts,
            "gift_state": _text("gift_states", row.gift_state),
        }
        for row in shown
    ]
    filters = {
        "rule_id": str(query.rule_id or ""),
        "state": query.state.value if query.state else "",
        "date": query.date.isoformat() if query.date else "",
    }
    kept = urlencode({name: value for name, value in filters.items() if value})
    end = query.date or local_today(services)
    chart = {"end": end.isoformat()} | ({"rule_id": str(query.rule_id)} if query.rule_id else {})
    next_cursor = encode_cursor(shown[-1].id) if len(rows) > PAGE_SIZE else None
    return render(
        request,
        "reminders/deliveries.html",
        items=items,
        rules=sorted(names.items()),
        states=[state.value for state in DeliveryState],
        filters=filters,
        errors=errors,
        kept=kept,
        next_cursor=next_cursor,
        first_page=query.cursor is not None,
        end=end.isoformat(),
        chart_days=CHART_DAYS,
        chart_query=urlencode(chart),
    )


async def _series(request: web.Request) -> tuple[date, date, list[dict[str, Any]]]:
    services = request.config_dict[keys.SERVICES]
    query = query_of(request, SeriesQuery)
    last = query.end or local_today(services)
    first = last - timedelta(days=CHART_DAYS - 1)
    return first, last, await reports.daily_counts(first, last, query.rule_id)


@pages.get("/reminders/deliveries/daily.json", area=Area.REMINDERS)
async def daily_json(request: web.Request) -> web.StreamResponse:
    """Deliveries per day and state over the chart's days, with the states' names."""
    first, last, days = await _series(request)
    texts = catalogue()
    return web.json_response(
        {
            "first": first.isoformat(),
            "last": last.isoformat(),
            "days": [day["day"] for day in days],
            "series": [
                {
                    "state": state.value,
                    "name": texts[f"reminders.states.{state.value}"],
                    "data": [day["counts"][state.value] for day in days],
                }
                for state in DeliveryState
            ],
        }
    )


@pages.get("/reminders/deliveries/daily.csv", area=Area.REMINDERS)
async def daily_csv(request: web.Request) -> web.StreamResponse:
    """The chart's numbers as CSV (UTF-8 with a byte-order mark, so spreadsheets read it)."""
    first, last, days = await _series(request)
    texts = catalogue()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            texts["reminders.deliveries.csv_day"],
            *(texts[f"reminders.states.{state.value}"] for state in DeliveryState),
            texts["reminders.deliveries.csv_total"],
        ]
    )
    for day in days:
        writer.writerow(
            [day["day"], *(day["counts"][state.value] for state in DeliveryState), day["total"]]
        )
    name = f"reminder-deliveries-{first.isoformat()}-{last.isoformat()}.csv"
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
