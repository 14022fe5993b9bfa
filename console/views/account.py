"""The staff member's own account: their password (every role, the cashier included)."""

from __future__ import annotations

from aiohttp import web

from console.pages import Pages, form_data, render
from console.session import current_staff, end_session
from handlers import operators
from handlers.operators.permissions import Area
from wxmember.core.errors import DomainError

pages = Pages()


@pages.get("/account", area=Area.OWN_ACCOUNT)
async def account(request: web.Request) -> web.StreamResponse:
    """The staff member's account and the password form."""
    return render(request, "account.html", error=None)


@pages.post("/account/password", area=Area.OWN_ACCOUNT)
async def change_password(request: web.Request) -> web.StreamResponse:
    """Change the password; every session ends, so the staff member signs in again."""
    form = await form_data(request)
    if form.get("new_password", "") != form.get("repeat_password", ""):
        return render(request, "account.html", status=400, error="passwords_differ")
    try:
        await operators.change_own_password(
            current_staff(request), form.get("current_password", ""), form.get("new_password", "")
        )
    except DomainError as exc:
        return render(request, "account.html", status=exc.status, error=exc.code)
    response = web.HTTPSeeOther("/console/?changed=password")
    end_session(response)
    raise response
