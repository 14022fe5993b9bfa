"""Console pages: each declared once with the area of work it belongs to; rendering them.

    pages = Pages()

    @pages.get("/members", area=Area.MEMBERS)
    async def members(request: web.Request) -> web.StreamResponse:
        return render(request, "members/search.html", results=...)

A page of an area the staff member's role may not enter answers the 403 page, whatever the
navigation showed; a page asked for without a session sends the browser to sign in (htmx
requests get `HX-Redirect`). Texts come from the catalogue (`t`), assets through `asset_url`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from console.assets import asset_url
from console.i18n import error_text, translate
from console.session import CSRF, signed_in_staff
from handlers.operators.permissions import Area, may
from wxmember.core.inputs import path_id
from wxmember.core.models import Operator

View = Callable[..., Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIGN_IN = "/console/"


@dataclass(frozen=True)
class NavItem:
    area: Area
    path: str
    label: str  # catalogue key


# The navigation, in the order a brand's staff expect it (会员, 营销, 积分商城, 设置).
NAVIGATION = (
    NavItem(Area.DASHBOARD, "/console/dashboard", "nav.dashboard"),
    NavItem(Area.MEMBERS, "/console/members", "nav.members"),
    NavItem(Area.MEMBERS, "/console/tags", "nav.tags"),
    NavItem(Area.MEMBERS, "/console/member-imports", "nav.member_imports"),
    NavItem(Area.MEMBERS, "/console/segments", "nav.saved_segments"),
    NavItem(Area.MEMBERS, "/console/campaigns", "nav.campaigns"),
    NavItem(Area.MEMBERS, "/console/referrals", "nav.referrals"),
    NavItem(Area.SETUP, "/console/setup/tiers", "nav.tiers"),
    NavItem(Area.SETUP, "/console/setup/checkin", "nav.checkin"),
    NavItem(Area.SETUP, "/console/setup/coupons", "nav.coupons"),
    NavItem(Area.SETUP, "/console/setup/mall", "nav.mall"),
    NavItem(Area.SETUP, "/console/setup/orders", "nav.orders"),
    NavItem(Area.SETUP, "/console/setup/rfm", "nav.rfm"),
    NavItem(Area.SETUP, "/console/setup/referrals", "nav.referral_settings"),
    NavItem(Area.SETUP, "/console/setup/wallet-card", "nav.wallet_card"),
    NavItem(Area.SETUP, "/console/stores", "nav.stores"),
    NavItem(Area.REMINDERS, "/console/reminders", "nav.reminders"),
    NavItem(Area.TILL, "/console/till", "nav.till"),
    NavItem(Area.AUDIT, "/console/audit", "nav.audit"),
    NavItem(Area.STAFF, "/console/staff", "nav.staff"),
    NavItem(Area.OWN_ACCOUNT, "/console/account", "nav.account"),
)


def navigation(staff: Operator) -> list[NavItem]:
    """What this staff member's role may open."""
    return [item for item in NAVIGATION if may(staff, item.area)]


def home_of(staff: Operator) -> str:
    """Where a staff member lands after signing in: the first page their role may open."""
    return navigation(staff)[0].path


def is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A template rendered with what every page needs (staff, navigation, CSRF, texts)."""
    staff = signed_in_staff(request)
    common: dict[str, Any] = {
        "staff": staff,
        "nav": navigation(staff) if staff is not None else [],
        "csrf": request[CSRF],
        "t": translate,
        "error_text": error_text,
        "asset": asset_url,
        "path": request.path,
        "may": (lambda area: staff is not None and may(staff, Area(area))),
    }
    response = aiohttp_jinja2.render_template(template, request, common | context)
    response.set_status(status)
    return response


def sign_in_redirect(request: web.Request) -> web.StreamResponse:
    target = f"{SIGN_IN}?next={quote(request.path_qs, safe='')}"
    if is_htmx(request):
        return web.Response(status=401, headers={"HX-Redirect": target})
    raise web.HTTPSeeOther(target)


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    area: Area | None
    handler: Handler


@dataclass
class Pages:
    """The pages of one module of the console."""

    pages: list[Page] = field(default_factory=list)

    def route(self, method: str, path: str, *, area: Area | None) -> Callable[[View], Handler]:
        """Declare a page; `area=None` only for what must work before signing in."""

        def declare(view: View) -> Handler:
            @functools.wraps(view)
            async def handler(request: web.Request) -> web.StreamResponse:
                if area is not None:
                    staff = signed_in_staff(request)
                    if staff is None:
                        return sign_in_redirect(request)
                    if not may(staff, area):
                        return render(request, "error.html", status=403, error="forbidden")
                return await view(request, **_path_arguments(request))

            self.pages.append(Page(method, path, area, handler))
            return handler

        return declare

    def get(self, path: str, *, area: Area | None) -> Callable[[View], Handler]:
        return self.route("GET", path, area=area)

    def post(self, path: str, *, area: Area | None) -> Callable[[View], Handler]:
        return self.route("POST", path, area=area)

    def add_to(self, app: web.Application) -> None:
        for page in self.pages:
            app.router.add_route(page.method, page.path, page.handler)

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)


def _path_arguments(request: web.Request) -> dict[str, Any]:
    return {
        name: path_id(request, name) if name.endswith("_id") else value
        for name, value in request.match_info.items()
    }


async def form_data(request: web.Request) -> Mapping[str, str]:
    """The fields of a posted form, as text (files are read by the views that take them)."""
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}
