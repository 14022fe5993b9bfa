"""`/api/v1/checkins`: check in today, the month's calendar, make up a missed day."""

from __future__ import annotations

from aiohttp import web

from handlers import checkin
from handlers.checkin.month import month_calendar
from miniapp_api.auth import current_member
from miniapp_api.responses import CheckinCalendar, CheckinResult, MakeupResult
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, IsoDate, MaybeMonth, Query
from wxmember.core.web import json_response

routes = Routes()


class MonthQuery(Query):
    month: MaybeMonth = None


class MakeupBody(Body):
    date: IsoDate


@routes.post(
    "/checkins",
    status=201,
    response=CheckinResult,
    errors=("already_checked_in", "checkin_disabled", "card_required"),
)
async def check_in(request: web.Request) -> web.Response:
    """Check in for today (the brand's local day)."""
    services = request.config_dict[keys.SERVICES]
    result = await checkin.check_in(services, current_member(request))
    return json_response(result.to_dict(), status=201)


@routes.get("/checkins", query=MonthQuery, response=CheckinCalendar)
async def calendar(request: web.Request, query: MonthQuery) -> web.Response:
    """The month's check-in calendar, the streak and the make-ups left."""
    services = request.config_dict[keys.SERVICES]
    return json_response(await month_calendar(services, current_member(request), query.month))


@routes.post(
    "/checkins/makeup",
    body=MakeupBody,
    status=201,
    response=MakeupResult,
    errors=(
        "already_checked_in",
        "makeup_future_day",
        "makeup_today",
        "makeup_other_month",
        "makeup_before_card",
        "makeup_limit_reached",
        "insufficient_points",
        "checkin_disabled",
        "card_required",
    ),
)
async def make_up(request: web.Request, body: MakeupBody) -> web.Response:
    """Check in for a missed earlier day of this month."""
    services = request.config_dict[keys.SERVICES]
    result = await checkin.make_up(services, current_member(request), body.date)
    return json_response(result.to_dict(), status=201)
