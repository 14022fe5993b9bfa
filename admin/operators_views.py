"""Login and logout, operator accounts and the audit log."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from admin.auth import allow, current_operator
from admin.responses import AuditPage, Operator, Operators, StaffSession
from handlers import audit, operators
from wxmember.core import keys
from wxmember.core.clientaddr import client_address
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, Limit, Page
from wxmember.core.models import Role
from wxmember.core.web import json_response, page_body

routes = Routes()

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64), CleanText
]


class LoginBody(Body):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class OperatorCreateBody(Body):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    role: Role
    display_name: Annotated[str, StringConstraints(max_length=64), CleanText] = ""


class OperatorPatchBody(Body):
    role: Role | None = None
    active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class AuditLogQuery(Page):
    limit: Limit = 50
    target_type: Annotated[str, StringConstraints(max_length=48)] | None = None


@routes.post(
    "/login",
    body=LoginBody,
    response=StaffSession,
    errors=("invalid_credentials", "too_many_requests"),
)
@allow()
async def login(request: web.Request, body: LoginBody) -> web.Response:
    """Log in with a username and password; the token of a staff session."""
    services = request.config_dict[keys.SERVICES]
    token, operator = await operators.login(
        services, body.username, body.password, client_address(request)
    )
    return json_response(
        {
            "token": token,
            "expires_in": services.config.security.operator_ttl_seconds,
            "operator": operators.public(operator),
        }
    )


@routes.post("/logout", status=204)
@allow(Role.OWNER, Role.OPERATOR, Role.CASHIER)
async def logout(request: web.Request) -> web.Response:
    """End every session of the operator (all devices; audited)."""
    await operators.logout(current_operator(request))
    return web.Response(status=204)


@routes.get("/me", response=Operator)
@allow(Role.OWNER, Role.OPERATOR, Role.CASHIER)
async def me(request: web.Request) -> web.Response:
    """The operator of this session."""
    return json_response(operators.public(current_operator(request)))


@routes.get("/operators", response=Operators)
@allow(Role.OWNER)
async def list_operators(request: web.Request) -> web.Response:
    """Every staff account."""
    found = await operators.list_operators()
    return json_response({"items": [operators.public(op) for op in found]})


@routes.post(
    "/operators",
    body=OperatorCreateBody,
    status=201,
    response=Operator,
    errors=("weak_password", "username_taken"),
)
@allow(Role.OWNER)
async def create_operator(request: web.Request, body: OperatorCreateBody) -> web.Response:
    """Create a staff account (audited)."""
    operator = await operators.create_operator(
        body.username, body.password, body.role, body.display_name, actor=current_operator(request)
    )
    return json_response(operators.public(operator), status=201)


@routes.patch(
    "/operators/{operator_id}",
    body=OperatorPatchBody,
    response=Operator,
    errors=("operator_not_found", "self_lockout", "weak_password"),
)
@allow(Role.OWNER)
async def update_operator(
    request: web.Request, operator_id: int, body: OperatorPatchBody
) -> web.Response:
    """Change an account's role, status or password; its sessions end (audited)."""
    operator = await operators.update_operator(
        current_operator(request),
        operator_id,
        role=body.role,
        active=body.active,
        password=body.password,
    )
    return json_response(operators.public(operator))


@routes.get("/audit-log", query=AuditLogQuery, response=AuditPage)
@allow(Role.OWNER)
async def audit_log(request: web.Request, query: AuditLogQuery) -> web.Response:
    """Every operator write, newest first, of every kind of record or one."""
    rows = await audit.entries(query.cursor, query.limit, query.target_type)
    items = [
        {
            "id": row.id,
            "actor": row.actor,
            "action": row.action,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "before": row.before,
            "after": row.after,
            "request_id": row.request_id,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
    return json_response(page_body(items, [row.id for row in rows], query.limit))
