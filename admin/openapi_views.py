"""`GET /admin/api/v1/openapi.json`: the admin API's OpenAPI 3.1 document."""

from __future__ import annotations

from aiohttp import web

from admin.auth import allow
from wxmember.core.endpoints import Routes
from wxmember.core.openapi import OpenApiDocument, serve_document

routes = Routes()


@routes.get("/openapi.json", response=OpenApiDocument)
@allow()
async def openapi_document(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 document, built from the route declarations."""
    return serve_document(request)
