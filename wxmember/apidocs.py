"""The API documents: the OpenAPI 3.1 documents of `/api/v1` and `/admin/api/v1`, as the
service serves them, written to `docs/openapi/` by `wxmember openapi` and checked in; and the
page at `/docs/` that shows them with the vendored Redoc."""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
import subprocess
from pathlib import Path

from aiohttp import web

from admin.routes import create_admin_app
from miniapp_api.routes import create_miniapp_app
from wxmember.core.openapi import OPENAPI_JSON
from wxmember.core.openapi_compat import breaking, version_bumped

DEFAULT_OUT = Path("docs/openapi")
COMMAND = "wxmember openapi"


def documents() -> dict[str, bytes]:
    """File name → the rendered document, for each JSON API."""
    return {
        "miniapp.json": create_miniapp_app()[OPENAPI_JSON].body(),
        "admin.json": create_admin_app()[OPENAPI_JSON].body(),
    }


def write(out: Path) -> list[Path]:
    """Write every document under `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in documents().items():
        path = out / name
        path.write_bytes(body)
        written.append(path)
    return written


def stale(out: Path) -> list[Path]:
    """The files under `out` that differ from what the code generates (or are missing)."""
    return [
        out / name
        for name, body in documents().items()
        if not (out / name).is_file() or (out / name).read_bytes() != body
    ]


def committed(rev: str, out: Path) -> dict[str, bytes]:
    """The documents as committed at a git revision (`git show REV:docs/openapi/NAME`)."""
    found = {}
    for name in documents():
        shown = subprocess.run(
            ["git", "show", f"{rev}:{(out / name).as_posix()}"],  # noqa: S607 (git on PATH)
            capture_output=True,
            check=False,
        )
        if shown.returncode == 0:
            found[name] = shown.stdout
    return found


def breaking_changes(baseline: Path | dict[str, bytes]) -> list[str]:
    """The breaking changes of the generated documents against a baseline (the files in a
    folder, or bodies by name), for the documents whose `info.version` is the same."""
    found = []
    for name, body in documents().items():
        if isinstance(baseline, Path):
            path = baseline / name
            before = path.read_bytes() if path.is_file() else None
        else:
            before = baseline.get(name)
        if before is None:
            continue
        old, new = json.loads(before), json.loads(body)
        if version_bumped(old, new):
            continue
        found += [f"{name}: {problem}" for problem in breaking(old, new)]
    return found


# --------------------------------------------------------------------------- the docs page

STATIC = Path(__file__).parent / "static"
REDOC = "vendor/redoc-2.5.2.standalone.js"  # refreshed by `./dev vendor`
IMMUTABLE = "public, max-age=31536000, immutable"

# Each document the page shows: its tab's path under /docs/, its title, its URL.
PAGES = {
    "": ("Mini-program API", "/api/v1/openapi.json"),
    "admin": ("Staff API", "/admin/api/v1/openapi.json"),
}

# No inline script and no other origin. Redoc needs only two allowances: the inline styles
# its styled-components inject (`style-src 'unsafe-inline'`) and its search index, which runs
# in a Web Worker made from a blob: URL (`worker-src blob:`). Its logos and code samples are
# data: images at most; the documents are fetched from this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; worker-src blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _asset_url(name: str) -> str:
    """A static file's URL: vendored files carry their version in their name; our own files
    the hash of their content."""
    if name.startswith("vendor/"):
        return f"/docs/static/{name}"
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/docs/static/{name}?v={digest}"


CURRENT = ' aria-current="page"'


def _page(current: str) -> str:
    title, spec_url = PAGES[current]
    tabs = "".join(
        f'<a href="/docs/{key}"{CURRENT if key == current else ""}>{html.escape(name)}</a>'
        for key, (name, _) in PAGES.items()
    )
    raw = (
        '<span class="raw">'
        + " · ".join(
            f'<a href="{url}">{html.escape(name)} (openapi.json)</a>'
            for name, url in PAGES.values()
        )
        + "</span>"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · wxmember</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{_asset_url("docs.css")}">
</head>
<body>
<nav class="apis" aria-label="API documents">{tabs}{raw}</nav>
<div id="redoc" data-spec-url="{spec_url}"></div>
<script src="/docs/static/{REDOC}"></script>
<script src="{_asset_url("docs.js")}"></script>
</body>
</html>
"""


async def docs_page(request: web.Request) -> web.Response:
    """`/docs/` (the mini-program API) and `/docs/admin` (the staff API), rendered by Redoc."""
    page = request.match_info.get("page", "")
    if page not in PAGES:
        raise web.HTTPNotFound()
    return web.Response(
        text=_page(page),
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def docs_static(request: web.Request) -> web.StreamResponse:
    """The page's files: the vendored bundle (its version in its name) cached for a year, our
    own files for a year when asked for by their current hash."""
    name = request.match_info["name"]
    allowed = {REDOC, "docs.js", "docs.css"}
    if name not in allowed:
        raise web.HTTPNotFound()
    fresh = name == REDOC or request.query.get("v") == _asset_url(name).partition("?v=")[2]
    return web.FileResponse(
        STATIC / name,
        headers={
            "Cache-Control": IMMUTABLE if fresh else "no-cache",
            "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "X-Content-Type-Options": "nosniff",
        },
    )


def setup_docs_routes(app: web.Application) -> None:
    app.router.add_get("/docs", docs_redirect)
    app.router.add_get("/docs/", docs_page)
    app.router.add_get("/docs/{page:admin}", docs_page)
    app.router.add_get("/docs/static/{name:.+}", docs_static)


async def docs_redirect(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/docs/")
