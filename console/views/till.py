"""收银台: the cashier's till on one screen: identify the member by the dynamic code (typed,
scanned by a scanner gun or the device camera), record the purchase, check and write off a
coupon against the order, refund a recorded purchase in full or in part.

Every write calls the handler the POS API calls (`handlers.pos`, `handlers.coupons.writeoff`),
so it is checked, idempotent and audited the same way. Each form carries what makes it
idempotent: the order number offered when the member was identified (a double tap records one
purchase and writes a coupon off once), a refund number offered with the refund form.

Every answer is the whole page, rendered from what the form sent; with htmx each form swaps in
only its own part (`hx-select`), plus the member's panel after a purchase. A refusal of a field
is shown next to it; htmx answers refusals with 200, since they are part of the till's work.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from console.i18n import catalogue, error_text
from console.pages import Pages, form_data, is_htmx, render
from console.session import current_staff, over_tls
from handlers import pos, stores
from handlers.coupons import writeoff
from handlers.operators.permissions import Area
from handlers.pos import till
from handlers.pos.purchases import MAX_FEN, MAX_NUMBER
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.inputs import MAX_ID
from wxmember.core.localtime import local_today
from wxmember.core.models import Operator, Role
from wxmember.core.models.stores import Store

pages = Pages()

MAX_CODE = 64
# Order and refund numbers as both the purchase and the write-off accept them.
_NUMBER = re.compile(rf"^[A-Za-z0-9_.:/-]{{1,{MAX_NUMBER}}}$", re.ASCII)
_YUAN = re.compile(r"^(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.([0-9]*))?$", re.ASCII)
_ID = re.compile(r"^[1-9][0-9]{0,9}$", re.ASCII)
FORM = "form"  # the slot for refusals that concern no single field

# Refusals by the field they concern, per form (beyond the fields' own `invalid_<field>`).
ORDER_FIELDS = {"order_no_reused": "order_no", "invalid_amount_fen": "amount"}
COUPON_FIELDS = {"invalid_code": "code", "coupon_not_found": "code"}
REFUND_FIELDS = {"refund_exceeds_purchase": "amount", "invalid_amount_fen": "amount"}
ORDER_FOCUS = {"order_no": "till-order-no", "amount": "till-amount"}
TILL_STORE_COOKIE = "wxm_till_store"


# ----------------------------------------------------------------- reading the forms


def parse_yuan(raw: str) -> int:
    """An amount typed in yuan (`128.5`, `128.50`, `1,280`, `¥128`) in fen, exactly; a refusal
    that says what is wrong with it."""
    text = unicodedata.normalize("NFKC", raw).strip().removeprefix("¥").removesuffix("元").strip()
    if not text:
        raise ValidationFailed("Type the amount.", code="yuan_required")
    match = _YUAN.match(text)
    if match is None:
        raise ValidationFailed("Type the amount in yuan, like 128.50.", code="yuan_format")
    decimals = match.group(1) or ""
    if len(decimals) > 2:
        raise ValidationFailed("At most two decimals (fen).", code="yuan_precision")
    fen = int(Decimal(text.replace(",", "")) * 100)
    if fen <= 0:
        raise ValidationFailed("The amount must be above zero.", code="yuan_positive")
    if fen > MAX_FEN:
        raise ValidationFailed("The amount is too large.", code="yuan_too_large")
    return fen


def parse_number(raw: str, name: str) -> str:
    """An order or refund number: letters, digits and `- _ . : /`, at most 48."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not _NUMBER.match(text):
        raise ValidationFailed(f"Not a valid {name}.", code=f"invalid_{name}")
    return text


def parse_member_id(raw: str) -> int:
    if not _ID.match(raw.strip()) or int(raw) > MAX_ID:
        raise ValidationFailed("Identify the member first.", code="till_member_required")
    return int(raw)


def yuan(fen: int | None) -> str:
    """Fen as the till shows money: always two decimals (12850 -> "128.50")."""
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def new_number(prefix: str, services: Services) -> str:
    """A fresh order or refund number for a form: the local day and six random characters."""
    day = local_today(services).strftime("%Y%m%d")
    return f"{prefix}{day}-{secrets.token_hex(3).upper()}"


def till_error(code: str) -> str:
    """What the till says for a refusal: its own text (`till.errors.<code>`), else the
    catalogue's text for the code."""
    return catalogue().get(f"till.errors.{code}") or error_text(code)


# ----------------------------------------------------------------- the state of the screen


@dataclass
class Part:
    """One form of the till: what was typed, what was refused (by field), what it did."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    result: dict[str, Any] | None = None

    def refuse(self, exc: DomainError, fields: Mapping[str, str], names: tuple[str, ...]) -> None:
        named = fields.get(exc.code) or exc.code.removeprefix("invalid_")
        self.errors.setdefault(named if named in names else FORM, exc.code)


@dataclass
class Till:
    identify: Part = field(default_factory=Part)
    member: dict[str, Any] | None = None
    order: Part = field(default_factory=Part)
    coupon: Part = field(default_factory=Part)
    refund: Part = field(default_factory=Part)
    focus: str = "till-code"


def _services(request: web.Request) -> Services:
    return request.config_dict[keys.SERVICES]


async def _page(request: web.Request, state: Till, status: int = 200) -> web.Response:
    """The till with this state; refusals keep their status for a plain form, 200 for htmx."""
    choices = await till_store_choices(current_staff(request))
    return render(
        request,
        "till/index.html",
        status=200 if is_htmx(request) else status,
        till=state,
        yuan=yuan,
        till_error=till_error,
        till_store=_till_store(request),
        store_choices=choices,
    )


def _till_store(request: web.Request) -> str | None:
    """The store this till records at, as chosen on it (a cookie of this device)."""
    chosen = request.cookies.get(TILL_STORE_COOKIE, "").strip()
    return chosen if 0 < len(chosen) <= MAX_CODE else None


async def till_store_choices(staff: Operator) -> list[Store]:
    """The stores the till offers: a bound cashier's own, else every active store."""
    bound = await stores.bound_stores(staff.id) if staff.role == Role.CASHIER else []
    return bound or await stores.all_stores(active_only=True)


def _status(*parts: Part) -> int:
    return 400 if any(part.errors for part in parts) else 200


async def _serving(request: web.Request, form: Mapping[str, str], state: Till) -> int | None:
    """The member the form names (a hidden field set when they were identified), shown again."""
    try:
        member_id = parse_member_id(form.get("member_id", ""))
        state.member = await till.member_at_till(_services(request), member_id)
    except DomainError as exc:
        # no member to serve (gone since, or a forged form): said where the cashier looks
        for part in (state.identify, state.order, state.coupon):
            part.errors[FORM if part is not state.identify else "code"] = exc.code
        return None
    return member_id


def _fresh_order(services: Services, state: Till) -> None:
    state.order = Part(values={"order_no": new_number("T", services), "amount": ""})
    state.focus = "till-amount"


# ----------------------------------------------------------------- the pages


@pages.get("/till", area=Area.TILL)
async def till_page(request: web.Request) -> web.StreamResponse:
    """The till, waiting for a member's code."""
    return await _page(request, Till())


@pages.post("/till/store", area=Area.TILL)
async def choose_store(request: web.Request) -> web.StreamResponse:
    """Choose the store this till records at (kept on this device); the writes check it."""
    form = await form_data(request)
    chosen = form.get("store", "").strip()[:MAX_CODE]
    response = web.HTTPSeeOther("/console/till")
    if chosen:
        response.set_cookie(
            TILL_STORE_COOKIE,
            chosen,
            path="/console/",
            httponly=True,
            samesite="Strict",
            secure=over_tls(request),
            max_age=90 * 86400,
        )
    else:
        response.del_cookie(TILL_STORE_COOKIE, path="/console/")
    raise response


@pages.post("/till/identify", area=Area.TILL)
async def identify(request: web.Request) -> web.StreamResponse:
    """Who the dynamic member code belongs to; a fresh order for them."""
    services = _services(request)
    form = await form_data(request)
    state = Till(identify=Part(values={"code": form.get("code", "")[:MAX_CODE]}))
    try:
        code = form.get("code", "").strip()
        if not code:
            raise ValidationFailed("Type or scan the member code.", code="till_code_required")
        if len(code) > MAX_CODE:
            raise ValidationFailed("Not a member code.", code="member_not_found")
        shown = await pos.identify(services, code)
        state.member = await till.member_at_till(services, shown["member_id"])
    except DomainError as exc:
        state.identify.errors["code"] = exc.code
        return await _page(request, state, status=exc.status)
    state.identify.values = {}
    _fresh_order(services, state)
    return await _page(request, state)


@pages.post("/till/orders", area=Area.TILL)
async def new_order(request: web.Request) -> web.StreamResponse:
    """Another order for the same member, with a fresh order number."""
    state = Till()
    if await _serving(request, await form_data(request), state) is not None:
        _fresh_order(_services(request), state)
    return await _page(request, state, status=_status(state.identify))


@pages.post("/till/purchases", area=Area.TILL)
async def record_purchase(request: web.Request) -> web.StreamResponse:
    """Record the order's purchase (points and growth); the same order again records nothing."""
    services = _services(request)
    form = await form_data(request)
    state = Till(order=Part(values={k: form.get(k, "") for k in ("order_no", "amount")}))
    member_id = await _serving(request, form, state)
    if member_id is None or state.member is None:
        return await _page(request, state, status=400)
    order = state.order
    order_no, amount_fen = "", 0
    try:
        order_no = parse_number(order.values["order_no"], "order_no")
    except DomainError as exc:
        order.errors["order_no"] = exc.code
    try:
        amount_fen = parse_yuan(order.values["amount"])
    except DomainError as exc:
        order.errors["amount"] = exc.code
    if not order.errors:
        tier_before = (state.member.get("tier") or {}).get("id")
        try:
            shown, _ = await pos.till_purchase(
                services,
                current_staff(request),
                member_id,
                order_no,
                amount_fen,
                _till_store(request),
            )
        except DomainError as exc:
            order.refuse(exc, ORDER_FIELDS, ("order_no", "amount"))
        else:
            state.member = await till.member_at_till(services, member_id)
            tier_after = state.member.get("tier") or {}
            order.result = shown | {"upgraded": tier_after.get("id") != tier_before}
            order.values["amount"] = yuan(amount_fen)
    if order.errors:
        state.focus = ORDER_FOCUS.get(next(iter(order.errors)), "till-amount")
    else:
        state.focus = "till-next-order"
    return await _page(request, state, status=_status(order))


def _order_of(state: Till, form: Mapping[str, str], *, required: bool) -> tuple[str, int | None]:
    """The order the coupon is checked against or written off on, from the order's fields."""
    coupon = state.coupon
    order_no, amount = "", None
    raw_no, raw_amount = form.get("order_no", ""), form.get("amount", "")
    if required or raw_no.strip():
        try:
            order_no = parse_number(raw_no, "order_no")
        except DomainError as exc:
            coupon.errors.setdefault("order", exc.code)
    if required or raw_amount.strip():
        try:
            amount = parse_yuan(raw_amount)
        except DomainError as exc:
            coupon.errors.setdefault("order", exc.code)
    return order_no, amount


@pages.post("/till/coupons/check", area=Area.TILL)
async def check_coupon(request: web.Request) -> web.StreamResponse:
    """What a coupon is and whether it can be used on this order (and if not, why)."""
    services = _services(request)
    form = await form_data(request)
    state = Till(coupon=Part(values={"code": form.get("code", "")[:MAX_CODE]}))
    member_id = await _serving(request, form, state)
    if member_id is None:
        return await _page(request, state, status=400)
    state.order.values = {k: form.get(k, "") for k in ("order_no", "amount")}
    _, amount = _order_of(state, form, required=False)
    coupon = state.coupon
    if not coupon.errors:
        try:
            coupon.result = await till.check_coupon_for(
                services, coupon.values["code"], amount, member_id
            )
        except DomainError as exc:
            coupon.refuse(exc, COUPON_FIELDS, ("code",))
        else:
            coupon.result |= {"order_amount_fen": amount, "written_off": False}
    state.focus = "till-coupon-redeem" if coupon.result else "till-coupon-code"
    return await _page(request, state, status=_status(coupon))


@pages.post("/till/coupons/redeem", area=Area.TILL)
async def redeem_coupon(request: web.Request) -> web.StreamResponse:
    """Write the coupon off on the order, once; the same order again answers the first time."""
    services = _services(request)
    form = await form_data(request)
    state = Till(coupon=Part(values={"code": form.get("code", "")[:MAX_CODE]}))
    member_id = await _serving(request, form, state)
    if member_id is None:
        return await _page(request, state, status=400)
    state.order.values = {k: form.get(k, "") for k in ("order_no", "amount")}
    order_no, amount = _order_of(state, form, required=True)
    coupon = state.coupon
    if not coupon.errors and amount is not None:
        try:
            done = await writeoff.redeem(
                services,
                current_staff(request),
                coupon.values["code"],
                order_no=order_no,
                order_amount_fen=amount,
                member_id=member_id,
                store=_till_store(request),
            )
        except DomainError as exc:
            coupon.refuse(exc, COUPON_FIELDS, ("code",))
        else:
            coupon.result = writeoff.writeoff_public(services, done) | {"written_off": True}
    state.focus = "till-coupon-code"
    return await _page(request, state, status=_status(coupon))


@pages.get("/till/refunds", area=Area.TILL)
async def find_purchase(request: web.Request) -> web.StreamResponse:
    """A recorded purchase by its order number, and the form to refund it."""
    services = _services(request)
    refund = Part(values={"lookup": request.query.get("order_no", "")[:MAX_CODE]})
    state = Till(refund=refund, focus="till-refund-lookup")
    try:
        order_no = parse_number(refund.values["lookup"], "order_no")
        refund.result = {"purchase": await till.purchase_for_refund(order_no)}
    except DomainError as exc:
        refund.errors["lookup"] = exc.code
        return await _page(request, state, status=exc.status)
    refundable = refund.result["purchase"]["refundable_fen"]
    refund.values |= {"amount": yuan(refundable), "refund_no": new_number("R", services)}
    state.focus = "till-refund-amount" if refundable else "till-refund-lookup"
    return await _page(request, state)


@pages.post("/till/refunds", area=Area.TILL)
async def refund_purchase(request: web.Request) -> web.StreamResponse:
    """Refund (part of) a purchase; its points and growth are taken back in proportion."""
    services = _services(request)
    form = await form_data(request)
    values = {k: form.get(k, "")[:MAX_CODE] for k in ("order_no", "refund_no", "amount")}
    refund = Part(values=values | {"lookup": values["order_no"]})
    state = Till(refund=refund, focus="till-refund-amount")
    try:
        order_no = parse_number(values["order_no"], "order_no")
        refund_no = parse_number(values["refund_no"], "refund_no")
        purchase = await till.purchase_for_refund(order_no)
    except DomainError as exc:
        refund.errors["lookup"] = exc.code
        return await _page(request, state, status=exc.status)
    refund.result = {"purchase": purchase}
    try:
        amount_fen = parse_yuan(values["amount"])
    except DomainError as exc:
        refund.errors["amount"] = exc.code
        return await _page(request, state, status=exc.status)
    try:
        shown, _ = await pos.till_refund(
            services, current_staff(request), order_no, refund_no, amount_fen, _till_store(request)
        )
    except DomainError as exc:
        refund.refuse(exc, REFUND_FIELDS, ("amount",))
        return await _page(request, state, status=exc.status)
    refund.result = {"purchase": await till.purchase_for_refund(order_no), "refund": shown}
    state.focus = "till-refund-lookup"
    return await _page(request, state)
