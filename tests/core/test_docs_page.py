"""`/docs/`: the API documents rendered by the vendored Redoc, under a strict CSP."""

from __future__ import annotations

import hashlib
import json
import re

from aiohttp.test_utils import TestClient

from wxmember import apidocs


async def test_the_page_references_the_bundle_and_both_documents(client: TestClient) -> None:
    for path, shown in (("/docs/", "/api/v1/openapi.json"), ("/docs/admin", "/admin/api/v1/")):
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        assert f'<script src="/docs/static/{apidocs.REDOC}"></script>' in page
        assert '"/api/v1/openapi.json"' in page and '"/admin/api/v1/openapi.json"' in page
        assert re.search(rf'data-spec-url="{re.escape(shown)}', page)
        assert "<script>" not in page  # nothing inline
        assert "https://" not in page  # no other origin
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp
        assert "worker-src blob:" in csp


async def test_the_bundle_is_served_for_a_year_and_matches_its_manifest(
    client: TestClient,
) -> None:
    response = await client.get(f"/docs/static/{apidocs.REDOC}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.content_type
    body = await response.read()
    manifest = json.loads((apidocs.STATIC / "vendor" / "manifest.json").read_text())
    assert (
        hashlib.sha256(body).hexdigest()
        == manifest[apidocs.REDOC.removeprefix("vendor/")]["sha256"]
    )


async def test_our_files_are_cached_by_their_hash_and_nothing_else_is_served(
    client: TestClient,
) -> None:
    page = await (await client.get("/docs/")).text()
    script = re.search(r'src="(/docs/static/docs\.js\?v=\w+)"', page)
    assert script is not None
    fresh = await client.get(script[1])
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/docs/static/docs.js?v=old")
    assert stale.headers["Cache-Control"] == "no-cache"
    for path in ("/docs/static/../apidocs.py", "/docs/static/vendor/manifest.json", "/docs/x"):
        assert (await client.get(path)).status == 404
    moved = await client.get("/docs", allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (301, "/docs/")
