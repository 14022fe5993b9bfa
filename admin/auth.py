"""Operator sessions and role checks for the admin sub-application.

Every route declares the roles allowed with `@allow(...)`, under its route declaration; a
route that declares none is a programming error caught when the app is built, so no route is
open by accident.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from handlers.operators.accounts import authenticate
from wxmember.core import keys
from wxmember.core.errors import Forbidden
from wxmember.core.inputs import bearer_token
from wxmember.core.models import Operator, Role
from wxmember.core.web import Handler

OPERATOR = web.RequestKey("operator", Operator)
ROLES_ATTR = "__wxmember_roles__"
PUBLIC: frozenset[Role] = frozenset()
STAFF = (Role.OWNER, Role.OPERATOR)
EVERYONE = (Role.OWNER, Role.OPERATOR, Role.CASHIER)
ViewT = TypeVar("ViewT", bound=Callable[..., Awaitable[web.StreamResponse]])


def allow(*roles: Role) -> Callable[[ViewT], ViewT]:
    """Declare which roles may call a route; `allow()` with none marks it public (login)."""

    def mark(view: ViewT) -> ViewT:
        setattr(view, ROLES_ATTR, frozenset(roles))
        return view

    return mark


def current_operator(request: web.Request) -> Operator:
    return request[OPERATOR]


def _declared_roles(request: web.Request) -> frozenset[Role] | None:
    handler: Any = request.match_info.handler
    return getattr(handler, ROLES_ATTR, None)


@web.middleware
async def operator_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    roles = _declared_roles(request)
    if roles is None and request.match_info.http_exception is None:
        raise Forbidden("This route declares no roles.", code="forbidden")
    if roles:
        services = request.config_dict[keys.SERVICES]
        operator = await authenticate(services.tokens, bearer_token(request))
        if operator.role not in roles:
            raise Forbidden("Your role may not do this.", code="role_not_allowed")
        request[OPERATOR] = operator
    return await handler(request)


def check_routes_declare_roles(app: web.Application) -> None:
    """Refuse to build an admin app with a route that forgot its roles."""
    for route in app.router.routes():
        if route.method != "HEAD" and getattr(route.handler, ROLES_ATTR, None) is None:
            raise RuntimeError(f"admin route {route.method} {route.resource} declares no roles")
