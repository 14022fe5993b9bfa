"""The mini-program sub-application: member sessions and every `/api/v1` route."""

from __future__ import annotations

from aiohttp import web

from miniapp_api.auth import member_auth_middleware


def create_miniapp_app() -> web.Application:
    app = web.Application(middlewares=[member_auth_middleware])
    return app
