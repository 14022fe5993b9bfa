"""Console sessions: the staff cookie, the CSRF token, the security headers of every answer.

- **Session**: signing in (through the same login, limiter and accounts as `/admin/api/v1`) sets
  an HttpOnly, SameSite=Strict cookie holding the operator's session token; it is Secure when
  the request came over TLS (directly, or through a trusted proxy that says so). The token names
  the operator's token version, so signing out, a password change or a role change ends every
  session of that operator at once.
- **CSRF**: a random token in a second HttpOnly cookie, repeated by every form (a hidden field)
  and every htmx request (the `X-CSRF-Token` header the page body declares); an unsafe request
  whose two copies differ is refused with 403 before any view runs. A page from another site
  can neither read the token nor set the cookie.
- **Headers**: a Content-Security-Policy that allows no inline script and no other origin,
  `X-Frame-Options: DENY`, no referrer across origins, and `no-store` on every page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from handlers import operators
from wxmember.core import keys
from wxmember.core.clientaddr import client_address, forwarded_over_tls
from wxmember.core.errors import DomainError
from wxmember.core.models import Operator

SESSION_COOKIE = "wxm_console"
CSRF_COOKIE = "wxm_console_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
STAFF = web.RequestKey("console_staff", Operator)
CSRF = web.RequestKey("console_csrf", str)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over TLS (directly or through a trusted proxy)."""
    return request.secure or forwarded_over_tls(request)


def _set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/console/",
        httponly=True,
        samesite="Strict",
        secure=over_tls(request),
    )


def current_staff(request: web.Request) -> Operator:
    return request[STAFF]


def signed_in_staff(request: web.Request) -> Operator | None:
    return request.get(STAFF)


async def sign_in(request: web.Request, username: str, password: str) -> str:
    """Check the credentials (rate-limited like the API); the session token."""
    services = request.config_dict[keys.SERVICES]
    token, _ = await operators.login(services, username, password, client_address(request))
    return token


def start_session(response: web.StreamResponse, request: web.Request, token: str) -> None:
    _set_cookie(response, request, SESSION_COOKIE, token)


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/console/")


async def _staff_of(request: web.Request) -> Operator | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await operators.authenticate(request.config_dict[keys.SERVICES].tokens, token)
    except DomainError:
        return None


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the signed-in staff member (if any) and the CSRF token on the request; check CSRF."""
    staff = await _staff_of(request)
    if staff is not None:
        request[STAFF] = staff
    csrf = request.cookies.get(CSRF_COOKIE) or ""
    fresh = not csrf
    if fresh:
        csrf = secrets.token_urlsafe(32)
    request[CSRF] = csrf
    if request.method not in SAFE_METHODS and not await _csrf_matches(request, csrf, fresh):
        raise web.HTTPForbidden(reason="csrf")
    response = await handler(request)
    if fresh:
        _set_cookie(response, request, CSRF_COOKIE, csrf)
    return response


async def _csrf_matches(request: web.Request, expected: str, fresh: bool) -> bool:
    if fresh:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The same protective headers on every console answer, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        protect(response, request)
        raise
    protect(response, request)
    return response


def protect(response: web.StreamResponse, request: web.Request) -> None:
    """The protective headers (a streamed answer sets them itself, before it is prepared)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/console/static/"):
        headers.setdefault("Cache-Control", "no-store")
