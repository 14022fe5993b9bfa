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
    points_views,
    session_views,
    subscriptions_views,
    tiers_views,
)
from miniapp_api.auth import member_auth_middleware
from wxmember.core.endpoints import mount

MODULES = (
    session_views,
    card_views,
    me_views,
    checkin_views,
    points_views,
    coupons_views,
    mall_views,
    tiers_views,
    subscriptions_views,
    binding_views,
)


def create_miniapp_app() -> web.Application:
    app = web.Application(middlewares=[member_auth_middleware])
    mount(app, *(module.routes for module in MODULES))
    return app
