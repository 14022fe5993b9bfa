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
from wxmember.core.endpoints import mount

MODULES = (
    operators_views,
    coupon_templates_views,
    member_coupons_views,
    pos_coupons_views,
    members_views,
    tiers_views,
    mall_views,
    pos_views,
    points_views,
    checkin_rules_views,
    reminders_views,
)


def create_admin_app() -> web.Application:
    app = web.Application(middlewares=[operator_auth_middleware])
    mount(app, *(module.routes for module in MODULES))
    check_routes_declare_roles(app)
    return app
