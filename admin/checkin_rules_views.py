"""`/admin/api/v1/checkin-rules`: the rules in force and the change pending for tomorrow."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from handlers.checkin import rules as checkin_rules
from wxmember.core import keys
from wxmember.core.inputs import read_json
from wxmember.core.web import json_response


@allow(*STAFF)
async def get_rules(request: web.Request) -> web.Response:
    return json_response(await checkin_rules.overview(request.config_dict[keys.SERVICES]))


@allow(*STAFF)
async def replace_rules(request: web.Request) -> web.Response:
    body = await read_json(request, checkin_rules.CheckinRules)
    services = request.config_dict[keys.SERVICES]
    return json_response(
        await checkin_rules.replace_rules(services, current_operator(request), body)
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/checkin-rules", get_rules)
    app.router.add_put("/checkin-rules", replace_rules)
