"""The console's static files: served by the service, cached for a year by the browser.

Every URL carries the file's content hash (`/console/static/console.css?v=1a2b3c4d`), so a file
can be cached as immutable and a new release is fetched at once. Vendored third-party files
(`static/vendor/`, refreshed by `./dev vendor`) also carry their version in their names.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def _versions() -> dict[str, str]:
    return {
        path.relative_to(STATIC).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.rglob("*")
        if path.is_file() and path.name != "manifest.json"
    }


def asset_url(name: str) -> str:
    """The URL of a static file, with its content hash (KeyError for a file that is missing)."""
    return f"/console/static/{name}?v={_versions()[name]}"


async def static_file(request: web.Request) -> web.StreamResponse:
    """A static file; cached for a year when asked for by its current hash."""
    name = request.match_info["name"]
    version = _versions().get(name)
    if version is None:
        raise web.HTTPNotFound()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    cache = IMMUTABLE if request.query.get("v") == version else "no-cache"
    return web.FileResponse(
        STATIC / name,
        headers={
            "Cache-Control": cache,
            "Content-Type": content_type,
            "X-Content-Type-Options": "nosniff",
        },
    )
