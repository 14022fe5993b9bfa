"""Domain errors: what a business operation refuses, with an HTTP status and a stable code.

Handlers raise these; each channel renders them its own way (the JSON APIs as
`{"error": {"code", "message"}}` with the status, the Official Account bot as a friendly reply).

    DomainError (400, bad_request)
    ├── ValidationFailed (400, invalid_<field> or validation_failed)
    ├── Unauthorized (401, unauthorized)
    ├── Forbidden (403, forbidden)
    ├── NotFound (404, <thing>_not_found)
    ├── Conflict (409: already_checked_in, sold_out, limit_reached, insufficient_points, ...)
    ├── TooManyRequests (429, too_many_requests)
    └── UpstreamUnavailable (503, upstream_unavailable): WeChat or another dependency failed
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every expected refusal. `code` is stable: clients switch on it."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    status = 400
    default_code = "validation_failed"


class Unauthorized(DomainError):
    status = 401
    default_code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    default_code = "too_many_requests"


class UpstreamUnavailable(DomainError):
    status = 503
    default_code = "upstream_unavailable"
