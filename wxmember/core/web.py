"""HTTP plumbing shared by every channel: request ids, metrics, the error model, JSON I/O."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from wxmember.core import keys
from wxmember.core.errors import DomainError, NotFound, ValidationFailed
from wxmember.core.log import request_id_var

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ModelT = TypeVar("ModelT", bound=BaseModel)

REQUEST_ID_KEY = web.RequestKey("request_id", str)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(
        data,
        status=status,
        dumps=lambda d: json.dumps(d, ensure_ascii=False, default=str),
        **kwargs,
    )


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id (the proxy's X-Request-Id if sane), count it, time it."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.config_dict[keys.METRICS]
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        request_id_var.reset(token)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error in the contract's shape; nothing internal leaks in a 500."""
    try:
        return await handler(request)
    except DomainError as exc:
        return json_response({"error": exc.to_dict()}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return json_response(error_body(code, exc.reason), status=exc.status)
    except Exception:
        request_id = request.get(REQUEST_ID_KEY)
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return json_response(
            error_body(
                "internal_error",
                "Something went wrong on our side; quote the request id if it persists.",
                request_id=request_id,
            ),
            status=500,
        )


async def read_json(request: web.Request, model: type[ModelT]) -> ModelT:
    """Parse and validate a JSON body; a clear 400 naming the first bad field otherwise."""
    if request.content_type != "application/json":
        raise ValidationFailed(
            "Send a JSON body (Content-Type: application/json).", code="not_json"
        )
    try:
        raw = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The body is not valid JSON.", code="invalid_json") from None
    return validate(model, raw)


def validate(model: type[ModelT], raw: Any) -> ModelT:
    """Validate data into a model, turning pydantic's report into one domain error."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(
            f"{field}: {message}",
            code=f"invalid_{first['loc'][0]}" if first["loc"] else "validation_failed",
            details={"field": field},
        ) from None


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within bounds, or a 400."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number.", code=f"invalid_{name}") from None
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be {low}..{high}.", code=f"invalid_{name}")
    return value


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def encode_cursor(last_id: int) -> str:
    return format(last_id, "x")


def page_query(request: web.Request, default_limit: int = 20) -> tuple[int | None, int]:
    """`?cursor=&limit=`: the id to continue after (None for the first page) and the size."""
    limit = query_int(request, "limit", default_limit, 1, 100)
    raw = request.query.get("cursor", "")
    if not raw:
        return None, limit
    try:
        return int(raw, 16), limit
    except ValueError:
        raise ValidationFailed("cursor is not valid.", code="invalid_cursor") from None


def page_body(items: list[dict[str, Any]], last_ids: list[int], limit: int) -> dict[str, Any]:
    """A page of items with the cursor of the next page, or null at the end."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(last_ids[limit - 1]) if more else None
    return {"items": items, "next_cursor": next_cursor}


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path; a 404 for anything else (no 500 on `/members/abc`)."""
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("No such record.", code="not_found")
    return int(raw)
