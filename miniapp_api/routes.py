"""The mini-program sub-application: member sessions and every `/api/v1` route."""

from __future__ import annotations

from aiohttp import web

from miniapp_api import (
    binding_views,
    card_views,
    checkin_views,
    coupons_views,
    mall_views,
    me_views,
    openapi_views,
    points_views,
    referrals_views,
    session_views,
    subscriptions_views,
    tiers_views,
)
from miniapp_api.auth import PUBLIC_ATTR, member_auth_middleware
from wxmember.core.endpoints import ENDPOINTS, Endpoint, mount
from wxmember.core.openapi import Access, attach, build_document

MODULES = (
    session_views,
    card_views,
    me_views,
    openapi_views,
    checkin_views,
    points_views,
    coupons_views,
    mall_views,
    tiers_views,
    subscriptions_views,
    binding_views,
    referrals_views,
)

# The document's `info.version`: bumped for every breaking change within the URL's /v1
# (README, "API documents"); `wxmember openapi --check` refuses a breaking change without it.
API_VERSION = "1"

DESCRIPTION = (
    "The API of the brand's WeChat mini-program. A member logs in with a `wx.login` code "
    "(`POST /session`) and sends the token as `Authorization: Bearer <token>` on every other "
    'call. Every refusal is `{"error": {"code", "message", "details"?}}` with a '
    "stable code (listed per response under `x-error-codes`); any route may answer 503 "
    "`server_busy`, `database_busy`, `database_unavailable` or `redis_unavailable` with "
    "`Retry-After`."
)


def _access(endpoint: Endpoint) -> Access:
    return Access(public=bool(getattr(endpoint.view, PUBLIC_ATTR, False)))


def _tag(endpoint: Endpoint) -> str:
    return endpoint.view.__module__.rpartition(".")[2].removesuffix("_views")


def create_miniapp_app() -> web.Application:
    app = web.Application(middlewares=[member_auth_middleware])
    mount(app, *(module.routes for module in MODULES))
    attach(
        app,
        lambda: build_document(
            app[ENDPOINTS],
            title="wxmember mini-program API",
            version=API_VERSION,
            server="/api/v1",
            description=DESCRIPTION,
            access=_access,
            tag=_tag,
        ),
    )
    return app
