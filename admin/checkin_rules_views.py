"""`/admin/api/v1/checkin-rules`: the rules in force and the change pending for tomorrow."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from admin.responses import CheckinRulesOverview
from handlers.checkin import rules as checkin_rules
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.web import json_response

routes = Routes()


@routes.get("/checkin-rules", response=CheckinRulesOverview)
@allow(*STAFF)
async def get_rules(request: web.Request) -> web.Response:
    """The rules in force today and, if a change is pending, those from tomorrow."""
    return json_response(await checkin_rules.overview(request.config_dict[keys.SERVICES]))


@routes.put("/checkin-rules", body=checkin_rules.CheckinRules, response=CheckinRulesOverview)
@allow(*STAFF)
async def replace_rules(request: web.Request, body: checkin_rules.CheckinRules) -> web.Response:
    """Replace the whole rule set from the brand's tomorrow (audited)."""
    services = request.config_dict[keys.SERVICES]
    return json_response(
        await checkin_rules.replace_rules(services, current_operator(request), body)
    )
