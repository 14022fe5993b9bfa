"""Route tables: each route declared once, beside its view, with what it reads and answers.

A channel keeps one `Routes` per module and decorates its views:

    routes = Routes()

    @routes.post("/card", body=OpenCardBody, status=201, errors=("card_exists",))
    async def open_card(request: web.Request, body: OpenCardBody) -> web.Response: ...

    @routes.get("/mall/items/{item_id}")
    async def get_item(request: web.Request, item_id: int) -> web.Response: ...

A route that can succeed in more than one way lists the other answers with `also=`
(`wxmember.core.openapi.Also`: a retry's replay, a 304 revalidation).

The declaration drives the route table (`Routes.add_to(app)`), the reading of the input
(path ids by `path_id`, the query by its model, the body by its model: a view only ever sees
validated values, passed as keyword arguments named after them) and what is published of the
route, so there is no second list to keep in step.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from wxmember.core.headers import Header
from wxmember.core.inputs import path_id, read_json, read_query

View = Callable[..., Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Endpoint:
    """One route and everything declared about it."""

    method: str
    path: str
    view: View
    handler: Handler
    body: type[BaseModel] | None = None
    body_optional: bool = False
    query: type[BaseModel] | None = None
    status: int = 200
    response: Any = None
    errors: tuple[str, ...] = ()
    headers: tuple[Header, ...] = ()
    also: tuple[Any, ...] = ()
    summary: str = ""

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)


def _path_arguments(request: web.Request, names: list[str]) -> dict[str, Any]:
    """Path parameters named `*_id` are ids (`path_id`); others are passed as text."""
    return {
        name: path_id(request, name) if name.endswith("_id") else request.match_info[name]
        for name in names
    }


def _summary(view: View) -> str:
    doc = (view.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else view.__name__.replace("_", " ")


@dataclass
class Routes:
    """The routes of one module of a channel, in declaration order."""

    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        body_optional: bool = False,
        query: type[BaseModel] | None = None,
        status: int = 200,
        response: Any = None,
        errors: tuple[str, ...] = (),
        headers: tuple[Header, ...] = (),
        also: tuple[Any, ...] = (),
    ) -> Callable[[View], Handler]:
        """Declare a route; the decorated view gets its validated input as keyword arguments."""
        parameters = _PATH_PARAMETER.findall(path)

        def declare(view: View) -> Handler:
            @functools.wraps(view)
            async def handler(request: web.Request) -> web.StreamResponse:
                arguments = _path_arguments(request, parameters)
                if query is not None:
                    arguments["query"] = read_query(request, query)
                if body is not None:
                    if body_optional and not request.can_read_body:
                        arguments["body"] = body()
                    else:
                        arguments["body"] = await read_json(request, body)
                for header in headers:
                    arguments[header.argument] = header.read(request.headers.get(header.name))
                return await view(request, **arguments)

            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    view=view,
                    handler=handler,
                    body=body,
                    body_optional=body_optional,
                    query=query,
                    status=status,
                    response=response,
                    errors=errors,
                    headers=headers,
                    also=also,
                    summary=_summary(view),
                )
            )
            return handler

        return declare

    def get(self, path: str, **declared: Any) -> Callable[[View], Handler]:
        return self.route("GET", path, **declared)

    def post(self, path: str, **declared: Any) -> Callable[[View], Handler]:
        return self.route("POST", path, **declared)

    def put(self, path: str, **declared: Any) -> Callable[[View], Handler]:
        return self.route("PUT", path, **declared)

    def patch(self, path: str, **declared: Any) -> Callable[[View], Handler]:
        return self.route("PATCH", path, **declared)

    def delete(self, path: str, **declared: Any) -> Callable[[View], Handler]:
        return self.route("DELETE", path, **declared)

    def add_to(self, app: web.Application) -> None:
        """Register every declared route on a (sub-)application."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)


ENDPOINTS = web.AppKey("endpoints", list)


def mount(app: web.Application, *tables: Routes) -> None:
    """Register the routes of several modules on a sub-application and keep their declarations
    on it (under `ENDPOINTS`) for whoever publishes or tests the route table."""
    declared: list[Endpoint] = []
    for table in tables:
        table.add_to(app)
        declared.extend(table)
    app[ENDPOINTS] = declared
