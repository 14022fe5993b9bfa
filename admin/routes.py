"""The admin sub-application: operator sessions, roles and every admin route."""

from __future__ import annotations

from aiohttp import web

from admin import operators_views
from admin.auth import check_routes_declare_roles, operator_auth_middleware


def create_admin_app() -> web.Application:
    app = web.Application(middlewares=[operator_auth_middleware])
    operators_views.setup(app)
    check_routes_declare_roles(app)
    return app
