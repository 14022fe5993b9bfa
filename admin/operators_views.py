"""Login and logout, operator accounts and the audit log."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from admin.auth import allow, current_operator
from handlers import audit, operators
from wxmember.core import keys
from wxmember.core.clientaddr import client_address
from wxmember.core.inputs import CleanText, page_query, path_id, read_json
from wxmember.core.models import Role
from wxmember.core.web import json_response, page_body

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64), CleanText
]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class OperatorCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    role: Role
    display_name: Annotated[str, StringConstraints(max_length=64), CleanText] = ""


class OperatorPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


@allow()
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
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


@allow(Role.OWNER, Role.OPERATOR, Role.CASHIER)
async def logout(request: web.Request) -> web.Response:
    await operators.logout(current_operator(request))
    return web.Response(status=204)


@allow(Role.OWNER, Role.OPERATOR, Role.CASHIER)
async def me(request: web.Request) -> web.Response:
    return json_response(operators.public(current_operator(request)))


@allow(Role.OWNER)
async def list_operators(request: web.Request) -> web.Response:
    found = await operators.list_operators()
    return json_response({"items": [operators.public(op) for op in found]})


@allow(Role.OWNER)
async def create_operator(request: web.Request) -> web.Response:
    body = await read_json(request, OperatorCreateBody)
    operator = await operators.create_operator(
        body.username, body.password, body.role, body.display_name, actor=current_operator(request)
    )
    return json_response(operators.public(operator), status=201)


@allow(Role.OWNER)
async def update_operator(request: web.Request) -> web.Response:
    body = await read_json(request, OperatorPatchBody)
    operator = await operators.update_operator(
        current_operator(request),
        path_id(request, "operator_id"),
        role=body.role,
        active=body.active,
        password=body.password,
    )
    return json_response(operators.public(operator))


@allow(Role.OWNER)
async def audit_log(request: web.Request) -> web.Response:
    after_id, limit = page_query(request, default_limit=50)
    rows = await audit.entries(after_id, limit, request.query.get("target_type") or None)
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
    return json_response(page_body(items, [row.id for row in rows], limit))


def setup(app: web.Application) -> None:
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/me", me)
    app.router.add_get("/operators", list_operators)
    app.router.add_post("/operators", create_operator)
    app.router.add_patch("/operators/{operator_id}", update_operator)
    app.router.add_get("/audit-log", audit_log)
