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


def create_miniapp_app() -> web.Application:
    app = web.Application(middlewares=[member_auth_middleware])
    session_views.setup(app)
    coupons_views.setup(app)
    card_views.setup(app)
    me_views.setup(app)
    tiers_views.setup(app)
    mall_views.setup(app)
    points_views.setup(app)
    checkin_views.setup(app)
    binding_views.setup(app)
    subscriptions_views.setup(app)
    return app
