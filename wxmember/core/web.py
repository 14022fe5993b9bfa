"""HTTP plumbing shared by every channel: request ids, metrics, the error model, JSON out.

What comes in (bodies, query strings, path ids, cursors) is read by `wxmember.core.inputs`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from wxmember.core import keys
from wxmember.core.errors import DomainError
from wxmember.core.inputs import encode_cursor
from wxmember.core.log import request_id_var

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID_KEY = web.RequestKey("request_id", str)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_REQUEST = 499

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


def dump_json(data: Any) -> bytes:
    """Every JSON answer's encoder: UTF-8, dates and datetimes in ISO 8601, any other value
    (a Decimal, say) as its text."""
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.Response(
        body=dump_json(data),
        status=status,
        content_type="application/json",
        charset="utf-8",
        **kwargs,
    )


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id (the proxy's X-Request-Id if sane), count it, time it."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
    request[REQUEST_ID_KEY] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    services = request.config_dict.get(keys.SERVICES)
    try:
        if services is None:
            response = await handler(request)
        else:
            # the members this request changed: their cached rows are dropped everywhere
            # before the answer leaves (wxmember.core.member_cache)
            async with services.members.serving_request():
                response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        # The server cancels a handler whose client went away (or on shutdown): not a 500.
        status = CLIENT_CLOSED_REQUEST
        raise
    finally:
        metrics = request.config_dict[keys.METRICS]
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.observe_request(request.method, route, status, time.perf_counter() - started)
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
    except ConnectionResetError:
        # The client went away in the middle of its request (aiohttp's "Connection lost"):
        # nobody is left to answer, and it is not the service's failure.
        log.info("client disconnected", extra={"path": request.path, "method": request.method})
        return web.Response(status=CLIENT_CLOSED_REQUEST)
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


def page_body(items: list[dict[str, Any]], last_ids: list[int], limit: int) -> dict[str, Any]:
    """A page of items with the cursor of the next page, or null at the end."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(last_ids[limit - 1]) if more else None
    return {"items": items, "next_cursor": next_cursor}
