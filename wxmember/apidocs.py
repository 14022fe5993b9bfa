"""The API documents: the OpenAPI 3.1 documents of `/api/v1` and `/admin/api/v1`, as the
service serves them, written to `docs/openapi/` by `wxmember openapi` and checked in."""

from __future__ import annotations

from pathlib import Path

from admin.routes import create_admin_app
from miniapp_api.routes import create_miniapp_app
from wxmember.core.openapi import OPENAPI_JSON

DEFAULT_OUT = Path("docs/openapi")
COMMAND = "wxmember openapi"


def documents() -> dict[str, bytes]:
    """File name → the rendered document, for each JSON API."""
    return {
        "miniapp.json": create_miniapp_app()[OPENAPI_JSON],
        "admin.json": create_admin_app()[OPENAPI_JSON],
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
