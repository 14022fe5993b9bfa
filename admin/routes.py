"""The admin sub-application: operator sessions, roles and every admin route."""

from __future__ import annotations

from aiohttp import web

from admin import (
    checkin_rules_views,
    coupon_templates_views,
    mall_views,
    member_coupons_views,
    members_views,
    operators_views,
    points_views,
    pos_coupons_views,
    pos_views,
    reminders_views,
    tiers_views,
)
from admin.auth import check_routes_declare_roles, operator_auth_middleware


def create_admin_app() -> web.Application:
    app = web.Application(middlewares=[operator_auth_middleware])
    operators_views.setup(app)
    coupon_templates_views.setup(app)
    member_coupons_views.setup(app)
    pos_coupons_views.setup(app)
    members_views.setup(app)
    tiers_views.setup(app)
    mall_views.setup(app)
    pos_views.setup(app)
    points_views.setup(app)
    checkin_rules_views.setup(app)
    reminders_views.setup(app)
    check_routes_declare_roles(app)
    return app
