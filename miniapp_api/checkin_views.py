"""`/api/v1/checkins`: check in today, the month's calendar, make up a missed day."""

from __future__ import annotations

import re
from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from handlers import checkin
from handlers.checkin.month import month_calendar
from miniapp_api.auth import current_member
from wxmember.core import keys
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import read_json
from wxmember.core.web import json_response

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MakeupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date


def _month(request: web.Request) -> date | None:
    raw = request.query.get("month", "")
    if not raw:
        return None
    match = _MONTH.match(raw)
    if match is None or not 2000 <= int(match[1]) <= 2100 or not 1 <= int(match[2]) <= 12:
        raise ValidationFailed("month must look like 2025-01.", code="invalid_month")
    return date(int(match[1]), int(match[2]), 1)


async def check_in(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    result = await checkin.check_in(services, current_member(request))
    return json_response(result.to_dict(), status=201)


async def calendar(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    month = _month(request)
    return json_response(await month_calendar(services, current_member(request), month))


async def make_up(request: web.Request) -> web.Response:
    body = await read_json(request, MakeupBody)
    services = request.config_dict[keys.SERVICES]
    result = await checkin.make_up(services, current_member(request), body.date)
    return json_response(result.to_dict(), status=201)


def setup(app: web.Application) -> None:
    app.router.add_post("/checkins", check_in)
    app.router.add_get("/checkins", calendar)
    app.router.add_post("/checkins/makeup", make_up)
