"""What staff do to a member from the member's page: each a form, each through the handler the
admin API uses, so it is checked and audited the same way.

Adjusting points and issuing a coupon carry an idempotency key generated when the form was
rendered, so submitting it twice acts once. A refusal sends the member's page back with the
typed values and the reason next to the field it concerns. Revealing the phone number and the
data export are for owners (the `reveal` area), deleting an account too (`erase`); anyone else
gets 403, whatever they post.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from console.pages import Pages, form_data, is_htmx, render
from console.session import current_staff
from console.views.members import FormState, member_context
from handlers import coupons, points, tiers
from handlers.members import account as member_account
from handlers.members import lookup as member_lookup
from handlers.operators.permissions import Area
from wxmember.core import keys
from wxmember.core.errors import DomainError, NotFound
from wxmember.core.inputs import MAX_ID, CleanText, Query, QueryInt, validate
from wxmember.core.web import json_response

pages = Pages()

Key = Annotated[str, StringConstraints(max_length=64)]
FormId = Annotated[int, QueryInt, Field(ge=1, le=MAX_ID)]


class AdjustForm(Query):
    amount: Annotated[int, QueryInt, Field(ge=-points.MAX_AMOUNT, le=points.MAX_AMOUNT)]
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
    ]
    idempotency_key: Key = ""


class GrantForm(Query):
    template_id: FormId
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
    ]
    idempotency_key: Key = ""


class MoveForm(Query):
    tier_id: FormId
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText] = ""


# Refusals that concern one field of a form, beyond `invalid_<field>` and `details.field`.
FIELD_OF_CODE = {
    "insufficient_points": "amount",
    "template_not_found": "template_id",
    "template_stopped": "template_id",
    "template_expired": "template_id",
    "sold_out": "template_id",
    "tier_not_found": "tier_id",
    "already_in_tier": "tier_id",
    "tag_not_found": "tag_id",
}
FIELDS = {
    "adjust": ("amount", "reason"),
    "grant": ("template_id", "reason"),
    "move": ("tier_id", "note"),
    "delete": ("confirm_card_no",),
    "tags": ("tag_id",),
}


def field_of(form: str, exc: DomainError) -> str | None:
    """The field of `form` a refusal concerns, or None for the form as a whole."""
    fields = FIELDS[form]
    named = exc.details.get("field")
    if isinstance(named, str) and named.split(".")[0] in fields:
        return named.split(".")[0]
    code = exc.code
    if code.startswith("invalid_") and code.removeprefix("invalid_") in fields:
        return code.removeprefix("invalid_")
    return FIELD_OF_CODE.get(code) if FIELD_OF_CODE.get(code) in fields else None


async def refused(
    request: web.Request, member_id: int, form: str, values: Mapping[str, str], exc: DomainError
) -> web.StreamResponse:
    """The member's page again, the form as typed and the refusal beside its field."""
    if isinstance(exc, NotFound) and exc.code in ("member_not_found", "not_found"):
        raise exc  # no member to show the form on: the error page
    state = FormState(form, values, field_of(form, exc), exc.code)
    context = await member_context(request, member_id, form=state)
    return render(request, "members/member.html", status=exc.status, **context)


def _done(member_id: int, what: str, anchor: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/members/{member_id}?done={what}#{anchor}")


@pages.post("/members/{member_id}/points", area=Area.MEMBERS)
async def adjust_points(request: web.Request, member_id: int) -> web.StreamResponse:
    """Add or take points, with a reason (audited); the same form sent twice adjusts once."""
    values = await form_data(request)
    try:
        form = validate(AdjustForm, values)
        await points.adjust(
            request.config_dict[keys.SERVICES],
            current_staff(request),
            member_id,
            form.amount,
            reason=form.reason,
            idempotency_key=points.adjustment_key(form.idempotency_key or None),
        )
    except DomainError as exc:
        return await refused(request, member_id, "adjust", values, exc)
    raise _done(member_id, "adjusted", "ledger")


@pages.post("/members/{member_id}/coupons", area=Area.MEMBERS)
async def grant_coupon(request: web.Request, member_id: int) -> web.StreamResponse:
    """Give the member a coupon (audited); the same form sent twice gives one."""
    values = await form_data(request)
    try:
        form = validate(GrantForm, values)
        await coupons.grant_coupon(
            request.config_dict[keys.SERVICES],
            current_staff(request),
            member_id,
            form.template_id,
            reason=form.reason,
            idempotency_key=coupons.grant_key(member_id, form.idempotency_key or None),
        )
    except DomainError as exc:
        return await refused(request, member_id, "grant", values, exc)
    raise _done(member_id, "granted", "coupons")


@pages.post("/members/{member_id}/tier", area=Area.MEMBERS)
async def move_tier(request: web.Request, member_id: int) -> web.StreamResponse:
    """Put the member in another tier, up or down (audited; the card is redrawn)."""
    values = await form_data(request)
    try:
        form = validate(MoveForm, values)
        await tiers.move_member(
            request.config_dict[keys.SERVICES],
            current_staff(request),
            member_id,
            form.tier_id,
            note=form.note,
        )
    except DomainError as exc:
        return await refused(request, member_id, "move", values, exc)
    raise _done(member_id, "moved", "tier-changes")


@pages.post("/members/{member_id}/reveal", area=Area.REVEAL)
async def reveal_phone(request: web.Request, member_id: int) -> web.StreamResponse:
    """The phone number in full, for an owner (audited); htmx swaps it into the card."""
    detail = await member_lookup.member_detail(
        request.config_dict[keys.SERVICES], current_staff(request), member_id, reveal_phone=True
    )
    if is_htmx(request):
        return render(request, "members/phone.html", member=detail)
    context = await member_context(request, member_id, phone=detail["phone"])
    return render(request, "members/member.html", **context)


@pages.post("/members/{member_id}/export", area=Area.REVEAL)
async def export_data(request: web.Request, member_id: int) -> web.StreamResponse:
    """Everything held about the member, as a JSON download (owners; audited)."""
    data = await member_account.export_for_member(
        request.config_dict[keys.SERVICES], current_staff(request), member_id
    )
    disposition = f'attachment; filename="member-{member_id}.json"'
    return json_response(data, headers={"Content-Disposition": disposition})


@pages.post("/members/{member_id}/delete", area=Area.ERASE)
async def delete_account(request: web.Request, member_id: int) -> web.StreamResponse:
    """Delete the account at the member's request, once the owner typed its card number."""
    values = await form_data(request)
    try:
        await member_account.delete_at_member_request(
            request.config_dict[keys.SERVICES],
            current_staff(request),
            member_id,
            typed_card_no=values.get("confirm_card_no", ""),
        )
    except DomainError as exc:
        return await refused(request, member_id, "delete", values, exc)
    raise web.HTTPSeeOther("/console/members?done=deleted")
