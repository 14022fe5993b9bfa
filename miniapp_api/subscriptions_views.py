"""`POST /api/v1/subscriptions`: one-time grants the mini-program got from
`wx.requestSubscribeMessage` (the template ids the member accepted)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from handlers.subscriptions.grants import SOURCE_CLIENT, record_grants
from miniapp_api.auth import current_member
from miniapp_api.responses import Grants
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body
from wxmember.core.ratelimit import enforce
from wxmember.core.web import json_response

routes = Routes()
REPORTS_PER_MINUTE = 20

TemplateId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class GrantsBody(Body):
    template_ids: Annotated[list[TemplateId], Field(min_length=1, max_length=10)]


@routes.post("/subscriptions", body=GrantsBody, response=Grants, errors=("too_many_requests",))
async def record_subscriptions(request: web.Request, body: GrantsBody) -> web.Response:
    """Record the one-time subscribe grants the member accepted in the mini-program."""
    services = request.config_dict[keys.SERVICES]
    member = current_member(request)
    # Without Redis a report is 503: it is paired with WeChat's own event there (grants.py).
    await enforce(
        services.redis, f"subscriptions:{member.id}", REPORTS_PER_MINUTE, 60, fail_open=False
    )
    grants = await record_grants(services, member.id, body.template_ids, source=SOURCE_CLIENT)
    return json_response({"grants": grants})
