"""Referrals for staff: the settings, the list, the monthly leaderboard, voiding (audited)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from admin.auth import STAFF, allow, current_operator
from handlers import referrals
from handlers.referrals.shapes import (
    Leaderboard,
    ReferralSettingsShown,
    StaffReferral,
    StaffReferralPage,
)
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MAX_ID, Body, CleanText, MaybeMonth, Page, Query, QueryInt
from wxmember.core.localtime import local_today
from wxmember.core.models.referrals import Referral, ReferralStatus
from wxmember.core.web import json_response, page_body

routes = Routes()


class ReferralsQuery(Page):
    status: ReferralStatus | None = None
    referrer_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None
    month: MaybeMonth = None


class LeaderboardQuery(Query):
    month: MaybeMonth = None


class VoidBody(Body):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
    ]


@routes.get("/referral-settings", response=ReferralSettingsShown)
@allow(*STAFF)
async def get_referral_settings(request: web.Request) -> web.Response:
    """What a referral gives and when (off until saved)."""
    return json_response((await referrals.current_settings()).public())


@routes.put(
    "/referral-settings",
    body=referrals.ReferralSettingsBody,
    response=ReferralSettingsShown,
    errors=("invalid_coupon_template",),
)
@allow(*STAFF)
async def put_referral_settings(
    request: web.Request, body: referrals.ReferralSettingsBody
) -> web.Response:
    """Save the referral settings whole (audited); they apply to referrals recorded from now."""
    services = request.config_dict[keys.SERVICES]
    saved = await referrals.save_settings(services, current_operator(request), body)
    return json_response(saved.public())


@routes.get("/referrals", query=ReferralsQuery, response=StaffReferralPage)
@allow(*STAFF)
async def list_referrals(request: web.Request, query: ReferralsQuery) -> web.Response:
    """Referrals newest first, with both members (phones masked) and the rewards."""
    services = request.config_dict[keys.SERVICES]
    rows = await referrals.list_referrals(
        cursor=query.cursor,
        limit=query.limit + 1,
        status=query.status,
        referrer_id=query.referrer_id,
        month=query.month,
    )
    items = await referrals.staff_views(services, rows)
    return json_response(page_body(items, [row.id for row in rows], query.limit))


@routes.get("/referrals/leaderboard", query=LeaderboardQuery, response=Leaderboard)
@allow(*STAFF)
async def referral_leaderboard(request: web.Request, query: LeaderboardQuery) -> web.Response:
    """The month's top referrers (this local month unless `month=YYYY-MM`)."""
    services = request.config_dict[keys.SERVICES]
    month = query.month or local_today(services).replace(day=1)
    rows = await referrals.leaderboard(services, month)
    return json_response({"month": month.isoformat(), "rows": rows})


@routes.post(
    "/referrals/{referral_id}/void",
    body=VoidBody,
    response=StaffReferral,
    errors=("referral_not_found", "referral_void"),
)
@allow(*STAFF)
async def void_referral(request: web.Request, referral_id: int, body: VoidBody) -> web.Response:
    """Void a fraudulent referral: its unpaid rewards are cancelled, paid ones stay (audited)."""
    services = request.config_dict[keys.SERVICES]
    voided: Referral = await referrals.void_referral(
        services, current_operator(request), referral_id, reason=body.reason
    )
    [shown] = await referrals.staff_views(services, [voided])
    return json_response(shown)
