"""The console sub-application, mounted at `/console/`: pages, sessions, errors, static files."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console import views
from console.assets import static_file
from console.pages import Pages, is_htmx, render
from console.session import security_headers_middleware, session_middleware
from wxmember.core.errors import DomainError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page_tables() -> list[Pages]:
    """The `pages` table of every module of `console.views`, in name order."""
    tables = []
    for info in sorted(pkgutil.iter_modules(views.__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{views.__name__}.{info.name}")
        tables.append(module.pages)
    return tables


@web.middleware
async def console_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals of the domain as a page (or, for htmx, the fragment that replaces the target)."""
    try:
        return await handler(request)
    except DomainError as exc:
        template = "partials/error.html" if is_htmx(request) else "error.html"
        return render(request, template, status=exc.status, error=exc.code, message=exc.message)
    except web.HTTPForbidden as exc:
        if exc.reason != "csrf":
            raise
        return render(request, "error.html", status=403, error="csrf")
    except web.HTTPNotFound:
        return render(request, "error.html", status=404, error="not_found")
    except web.HTTPRequestEntityTooLarge:
        # an upload beyond server.max_body_bytes, found while the form is read
        template = "partials/error.html" if is_htmx(request) else "error.html"
        return render(request, template, status=413, error="body_too_large")


def create_console_app() -> web.Application:
    """The console: server-rendered pages with htmx, behind the staff sign-in."""
    app = web.Application(
        middlewares=[security_headers_middleware, console_errors_middleware, session_middleware]
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("console", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_get("/static/{name:.+}", static_file)
    for table in page_tables():
        table.add_to(app)
    return app
