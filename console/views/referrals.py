"""邀请有礼 (referrals): the settings, the month's leaderboard and the referrals, voiding.

Operators set what a referral gives and when (`handlers.referrals.settings`), watch the
month's top referrers and the referrals behind them, and void a fraudulent one with a reason
(its unpaid rewards are cancelled, paid ones stay; audited).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import FORM, FormReader, services_of, setup_render
from handlers import referrals
from handlers.coupons.templates import grantable_templates
from handlers.operators.permissions import Area
from handlers.referrals.settings import MAX_MONTHLY, MAX_POINTS
from wxmember.core.errors import DomainError
from wxmember.core.inputs import MaybeMonth, Query, clean_text, validate
from wxmember.core.localtime import local_today
from wxmember.core.models.referrals import RewardMoment

pages = Pages()

MOMENTS = tuple(moment.value for moment in RewardMoment)
SIDES = ("referrer", "invitee")
SHOWN = 50


def _values_of(current: referrals.CurrentSettings) -> dict[str, Any]:
    values: dict[str, Any] = {"reward_on": current.reward_on, "enabled": current.enabled}
    for side in SIDES:
        amount, template_id = current.rewards(side)
        values[f"{side}_points"] = str(amount)
        values[f"{side}_coupon_template_id"] = "" if template_id is None else str(template_id)
    values["monthly_limit"] = str(current.monthly_limit)
    return values


def _read(form: dict[str, str]) -> tuple[referrals.ReferralSettingsBody | None, dict[str, str]]:
    reader = FormReader(form)
    raw: dict[str, Any] = {
        "enabled": reader.flag("enabled"),
        "reward_on": reader.choice("reward_on", MOMENTS),
        "monthly_limit": reader.required_whole("monthly_limit", low=1, high=MAX_MONTHLY),
    }
    for side in SIDES:
        raw[f"{side}_points"] = reader.whole(f"{side}_points", low=0, high=MAX_POINTS) or 0
        raw[f"{side}_coupon_template_id"] = reader.whole(
            f"{side}_coupon_template_id", low=1, high=2**31 - 1
        )
    if reader.errors:
        return None, reader.errors
    try:
        return validate(referrals.ReferralSettingsBody, raw), {}
    except DomainError as exc:
        return None, {FORM: exc.code}


async def _settings_page(
    request: web.Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> web.Response:
    templates = await grantable_templates(services_of(request))
    return setup_render(
        request,
        "referrals/settings.html",
        status=status,
        current=await referrals.current_settings(),
        values=values,
        errors=errors,
        moments=MOMENTS,
        sides=SIDES,
        templates=[(str(template.id), template.title) for template in templates],
        saved="updated" if request.query.get("saved") == "updated" else None,
    )


@pages.get("/setup/referrals", area=Area.SETUP)
async def referral_settings_page(request: web.Request) -> web.StreamResponse:
    """The referral settings in force and the form to change them."""
    return await _settings_page(request, _values_of(await referrals.current_settings()), {})


@pages.post("/setup/referrals", area=Area.SETUP)
async def save_referral_settings(request: web.Request) -> web.StreamResponse:
    """Save the referral settings (audited)."""
    form = dict(await form_data(request))
    body, errors = _read(form)
    if body is not None:
        try:
            await referrals.save_settings(services_of(request), current_staff(request), body)
        except DomainError as exc:
            field = str(exc.details.get("field", FORM))
            errors = {field: exc.code}
        else:
            raise web.HTTPSeeOther("/console/setup/referrals?saved=updated")
    values: dict[str, Any] = {key: value for key, value in form.items() if key != "csrf_token"}
    values["enabled"] = "enabled" in form
    return await _settings_page(request, values, errors, 400)


class MonthQuery(Query):
    month: MaybeMonth = None


def _month(request: web.Request, today: date) -> date:
    try:
        month: date | None = validate(MonthQuery, dict(request.query)).month
    except DomainError:
        month = None
    return month or today.replace(day=1)


async def _board(
    request: web.Request, month: date, error: str | None = None, status: int = 200
) -> web.Response:
    services = services_of(request)
    rows = await referrals.list_referrals(cursor=None, limit=SHOWN, month=month)
    return setup_render(
        request,
        "referrals/board.html",
        status=status,
        month=month.strftime("%Y-%m"),
        leaders=await referrals.leaderboard(services, month),
        referrals=await referrals.staff_views(services, rows),
        error=error,
        saved="voided" if request.query.get("saved") == "voided" else None,
    )


@pages.get("/referrals", area=Area.MEMBERS)
async def referral_board(request: web.Request) -> web.StreamResponse:
    """The month's top referrers and its referrals, each with the void action."""
    return await _board(request, _month(request, local_today(services_of(request))))


@pages.post("/referrals/{referral_id}/void", area=Area.MEMBERS)
async def void_referral_page(request: web.Request, referral_id: int) -> web.StreamResponse:
    """Void a referral with a reason (audited); its unpaid rewards are cancelled."""
    services = services_of(request)
    form = await form_data(request)
    try:
        reason = clean_text(form.get("reason", ""))[:200]
    except ValueError:
        reason = ""
    month = _month(request, local_today(services))
    if not reason:
        return await _board(request, month, "reason_required", 400)
    try:
        await referrals.void_referral(services, current_staff(request), referral_id, reason=reason)
    except DomainError as exc:
        return await _board(request, month, exc.code, exc.status)
    raise web.HTTPSeeOther(f"/console/referrals?month={month:%Y-%m}&saved=voided")
