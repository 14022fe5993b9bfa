"""Signing in and out of the console."""

from __future__ import annotations

from aiohttp import web

from console.pages import Pages, form_data, home_of, render
from console.session import current_staff, end_session, sign_in, signed_in_staff, start_session
from handlers import operators
from handlers.operators.permissions import Area
from wxmember.core.errors import DomainError

pages = Pages()


def _safe_next(target: str | None) -> str | None:
    """Only a page of the console itself is a place to go after signing in."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return None


@pages.get("/", area=None)
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    """The sign-in form, or the staff member's first page when already signed in."""
    staff = signed_in_staff(request)
    if staff is not None:
        raise web.HTTPSeeOther(home_of(staff))
    return render(
        request,
        "signin.html",
        next=_safe_next(request.query.get("next")),
        changed=request.query.get("changed") == "password",
        error=None,
    )


@pages.post("/signin", area=None)
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    """Check the username and password; start the session."""
    form = await form_data(request)
    target = _safe_next(form.get("next"))
    try:
        token = await sign_in(request, form.get("username", ""), form.get("password", ""))
    except DomainError as exc:
        return render(
            request,
            "signin.html",
            status=exc.status,
            next=target,
            error=exc.code,
            changed=False,
            username=form.get("username", ""),
        )
    # Without a page asked for, "/console/" sends the staff member to their first page.
    response = web.HTTPSeeOther(target or "/console/")
    start_session(response, request, token)
    raise response


@pages.post("/signout", area=Area.OWN_ACCOUNT)
async def sign_out(request: web.Request) -> web.StreamResponse:
    """End every session of this staff member and go back to the sign-in form."""
    await operators.logout(current_staff(request))
    response = web.HTTPSeeOther("/console/")
    end_session(response)
    raise response
