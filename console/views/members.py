"""会员管理: finding a member, a member's page, and the lists on it page by page.

The search box reads card numbers, mobile numbers and names (`handlers.members.lookup`); as the
operator types, htmx swaps the results in, and the same form works as a plain GET. Every list
continues with its cursor: a plain link opens the next page, and with htmx the link swaps the
rows of the next page in where it stood (`hx-get` into the table). The forms of the member's
page post to `console.views.member_actions`.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import StringConstraints

from console.i18n import catalogue
from console.pages import Pages, is_htmx, render
from console.session import current_staff
from handlers import audit, coupons, segments, tags, tiers
from handlers.checkin.month import month_calendar
from handlers.coupons import codes as coupon_codes
from handlers.coupons.templates import grantable_templates
from handlers.mall import orders as mall_orders
from handlers.members import load_member
from handlers.members import lookup as member_lookup
from handlers.operators.permissions import Area, may
from handlers.points import queries as points_queries
from handlers.tags import catalogue as tag_catalogue
from handlers.tags.members import link_view
from handlers.tiers import ladder as tier_ladder
from handlers.wallet_card.backlog import member_wallet
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.inputs import Page, Printable, encode_cursor, read_query
from wxmember.core.models import Member

pages = Pages()

PAGE_SIZE = 20
# The results of the search box, and the row that loads the next page of a list, by element id.
RESULTS_TARGET = "member-results"
MORE_SUFFIX = "-more"
NOTICES = ("adjusted", "granted", "moved", "deleted", "tagged", "untagged")

Typed = Annotated[str, StringConstraints(max_length=64), Printable]


class SearchQuery(Page):
    q: Typed = ""


@dataclass(frozen=True)
class Paged:
    """One page of a list: its rows and the URL of the next page (None on the last)."""

    rows: Sequence[Any]
    next_url: str | None


@dataclass
class FormState:
    """A form of the member's page sent back with a refusal: what was typed, what was wrong."""

    name: str
    values: Mapping[str, str] = field(default_factory=dict)
    field: str | None = None
    error: str | None = None


def paged(rows: Sequence[Any], ids: Sequence[int], url: Callable[[str], str]) -> Paged:
    """The first PAGE_SIZE rows of `limit + 1` fetched, and the next page's URL if there is one."""
    more = len(rows) > PAGE_SIZE
    return Paged(rows[:PAGE_SIZE], url(encode_cursor(ids[PAGE_SIZE - 1])) if more else None)


def _services(request: web.Request) -> Services:
    return request.config_dict[keys.SERVICES]


def _more_rows(request: web.Request) -> bool:
    """An htmx request for the next rows of a list (sent by its "more" row)."""
    return is_htmx(request) and request.headers.get("HX-Target", "").endswith(MORE_SUFFIX)


class Texts:
    """Helpers for templates: local times, and labels of codes with their raw value as fallback."""

    def __init__(self, services: Services) -> None:
        self._tz = services.config.brand.tz

    def when(self, moment: datetime | str | None) -> str:
        if moment is None:
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return moment.astimezone(self._tz).strftime("%Y-%m-%d %H:%M")

    def day(self, moment: datetime | str | None) -> str:
        return self.when(moment)[:10]

    def label(self, prefix: str, value: str | None) -> str:
        if value is None:
            return ""
        return catalogue().get(f"members.{prefix}.{value}", value)


# ----------------------------------------------------------------- the search


def _search_url(q: str, cursor: str | None = None) -> str:
    params = {"q": q} if q else {}
    if cursor:
        params["cursor"] = cursor
    return "/console/members" + (f"?{urlencode(params)}" if params else "")


@pages.get("/members", area=Area.MEMBERS)
async def search(request: web.Request) -> web.StreamResponse:
    """Members by card number, mobile number or name (nothing typed: the newest first)."""
    services = _services(request)
    q, error, found = "", None, Paged([], None)
    try:
        query = read_query(request, SearchQuery)
        q = query.q.strip()
        rows = await member_lookup.find_members(services, q, after_id=query.cursor, limit=PAGE_SIZE)
        found = paged(
            [member_lookup.staff_view(services, row) for row in rows],
            [row.id for row in rows],
            lambda cursor: _search_url(q, cursor),
        )
    except DomainError as exc:
        q, error = request.query.get("q", "")[:64], exc.code
    context: dict[str, Any] = {
        "q": q,
        "error": error,
        "found": found,
        "first_page": "cursor" not in request.query,
        "texts": Texts(services),
        "notice": request.query.get("done") if request.query.get("done") in NOTICES else None,
    }
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    if is_htmx(request) and not restoring:
        if _more_rows(request):
            return render(request, "members/rows/members.html", **context)
        if request.headers.get("HX-Target") == RESULTS_TARGET:
            # swapped in as the operator types: a refusal is part of the answer, not a failure
            return render(request, "members/results.html", **context)
    return render(request, "members/search.html", status=400 if error else 200, **context)


# ----------------------------------------------------------------- a member's page


def _list_url(member_id: int, name: str) -> Callable[[str], str]:
    return lambda cursor: f"/console/members/{member_id}/{name}?cursor={cursor}"


async def _ledger(services: Services, member: Member, cursor: int | None) -> Paged:
    rows = await points_queries.ledger(member.id, cursor, PAGE_SIZE)
    return paged(rows, [row.id for row in rows], _list_url(member.id, "ledger"))


async def _coupons(services: Services, member: Member, cursor: int | None) -> Paged:
    rows = await coupons.member_coupons(services, member.id, None, cursor, PAGE_SIZE)
    shown = [coupon_codes.coupon_public(services, row, row.template) for row in rows]
    return paged(shown, [row.id for row in rows], _list_url(member.id, "coupons"))


async def _orders(services: Services, member: Member, cursor: int | None) -> Paged:
    rows = await mall_orders.list_orders(cursor, PAGE_SIZE, member_id=member.id)
    shown = [mall_orders.admin_order_view(services, row) for row in rows]
    return paged(shown, [row.id for row in rows], _list_url(member.id, "orders"))


async def _tier_changes(services: Services, member: Member, cursor: int | None) -> Paged:
    rows = await tiers.tier_changes(member.id, cursor, PAGE_SIZE)
    return paged(rows, [row.id for row in rows], _list_url(member.id, "tier-changes"))


async def _audit(services: Services, member: Member, cursor: int | None) -> Paged:
    rows = await audit.entries(cursor, PAGE_SIZE, "member", target_id=member.id)
    return paged(rows, [row.id for row in rows], _list_url(member.id, "audit"))


Loader = Callable[[Services, Member, int | None], Awaitable[Paged]]
LISTS: dict[str, Loader] = {
    "ledger": _ledger,
    "coupons": _coupons,
    "orders": _orders,
    "tier-changes": _tier_changes,
    "audit": _audit,
}


@dataclass(frozen=True)
class CalendarDay:
    day: date
    in_month: bool
    today: bool
    checkin: Mapping[str, Any] | None


def _calendar_weeks(month: Mapping[str, Any]) -> list[list[CalendarDay]]:
    """The month's weeks, Monday first, each day with its check-in if there was one."""
    first = date.fromisoformat(f"{month['month']}-01")
    today = date.fromisoformat(month["today"])
    checkins = {row["date"]: row for row in month["days"]}
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    return [
        [
            CalendarDay(
                day=day,
                in_month=day.month == first.month,
                today=day == today,
                checkin=checkins.get(day.isoformat()) if day.month == first.month else None,
            )
            for day in week
        ]
        for week in weeks
    ]


def new_form_key() -> str:
    """A fresh idempotency key for a form: a double submit of one rendering acts once."""
    return secrets.token_hex(16)


async def member_context(
    request: web.Request,
    member_id: int,
    *,
    phone: str | None = None,
    form: FormState | None = None,
) -> dict[str, Any]:
    """Everything the member's page shows; `phone` revealed, `form` refused and sent back."""
    services = _services(request)
    staff = current_staff(request)
    member = await load_member(member_id)
    lists = {
        name: await loader(services, member, None)
        for name, loader in LISTS.items()
        if name != "audit" or may(staff, Area.AUDIT)
    }
    month = await month_calendar(services, member, None)
    form = form or FormState(name="")
    form_keys = {"adjust": new_form_key(), "grant": new_form_key()}
    if form.name in form_keys and form.values.get("idempotency_key"):
        # the refused attempt changed nothing: trying again may keep its key
        form_keys[form.name] = form.values["idempotency_key"]
    done = request.query.get("done")
    rfm = await segments.rfm_of(member.id)
    return {
        "member": member_lookup.staff_view(services, member, phone=phone),
        "has_card": member.has_card,
        "overview": await tiers.tier_overview(services, member),
        "points": await points_queries.summary(services, member),
        "rfm": rfm,
        "wallet": await member_wallet(member.id),
        "rfm_money": f"¥{rfm.monetary_fen / 100:,.2f}" if rfm is not None else "",
        "lists": lists,
        "month": month,
        "weeks": _calendar_weeks(month),
        "templates": await grantable_templates(services),
        "ladder": await tier_ladder.list_tiers(),
        "tags": [link_view(link) for link in await tags.member_tags(member.id)],
        "tag_choices": await tag_catalogue.all_tags(),
        "form": form,
        "form_keys": form_keys,
        "notice": done if done in NOTICES else None,
        "texts": Texts(services),
    }


@pages.get("/members/{member_id}", area=Area.MEMBERS)
async def member_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """A member: card, points, coupons, orders, check-ins, tier changes, and what staff may do."""
    return render(request, "members/member.html", **await member_context(request, member_id))


async def _list_page(request: web.Request, member_id: int, name: str) -> web.StreamResponse:
    """One page of a member's list: the rows alone for htmx, else a page of its own."""
    services = _services(request)
    query = read_query(request, Page)
    member = await load_member(member_id)
    context: dict[str, Any] = {
        "member": member_lookup.staff_view(services, member),
        "lists": {name: await LISTS[name](services, member, query.cursor)},
        "list_name": name,
        "texts": Texts(services),
    }
    if _more_rows(request):
        return render(request, f"members/rows/{name}.html", **context)
    return render(request, "members/list.html", **context)


@pages.get("/members/{member_id}/ledger", area=Area.MEMBERS)
async def ledger_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """The member's points ledger, newest first."""
    return await _list_page(request, member_id, "ledger")


@pages.get("/members/{member_id}/coupons", area=Area.MEMBERS)
async def coupons_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """The member's coupons, newest first."""
    return await _list_page(request, member_id, "coupons")


@pages.get("/members/{member_id}/orders", area=Area.MEMBERS)
async def orders_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """The member's mall orders, newest first."""
    return await _list_page(request, member_id, "orders")


@pages.get("/members/{member_id}/tier-changes", area=Area.MEMBERS)
async def tier_changes_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """The member's tier changes, newest first."""
    return await _list_page(request, member_id, "tier-changes")


@pages.get("/members/{member_id}/audit", area=Area.AUDIT)
async def audit_page(request: web.Request, member_id: int) -> web.StreamResponse:
    """What staff did to this member, newest first (owners: the audit log is theirs)."""
    return await _list_page(request, member_id, "audit")
