"""Prepared HTTP requests: what a scenario hands to the load generators, as data.

Kept free of the service's imports so that the load generator processes start light.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Request:
    """One prepared HTTP request; `path` is relative to the server root."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": [list(pair) for pair in self.headers],
            "body_b64": base64.b64encode(self.body).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        headers = tuple((str(k), str(v)) for k, v in data.get("headers", []))
        body = base64.b64decode(data.get("body_b64", ""))
        return cls(data["method"], data["path"], headers, body)


def json_request(
    method: str, path: str, payload: Any, headers: Iterable[tuple[str, str]] = ()
) -> Request:
    """A request with a JSON body."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Request(method, path, (*headers, ("Content-Type", "application/json")), body)


def write_requests(path: Path, requests: list[Request]) -> None:
    path.write_text(json.dumps([r.to_json() for r in requests]), encoding="utf-8")


def read_requests(path: Path) -> list[Request]:
    return [Request.from_json(item) for item in json.loads(path.read_text(encoding="utf-8"))]
