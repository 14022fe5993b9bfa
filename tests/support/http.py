"""Talking to the service over HTTP: the error code of an answer, the bearer header."""

from __future__ import annotations

from typing import Any


async def error_code(response: Any) -> str:
    """The `code` of an error answer: `{"error": {"code": ..., "message": ...}}`."""
    return (await response.json())["error"]["code"]


def bearer(token: str) -> dict[str, str]:
    """The `Authorization` header of a session token (member or staff)."""
    return {"Authorization": f"Bearer {token}"}
