"""The member card: open it, show it, its image, the dynamic member code, and what the
mini-program needs to add it to WeChat's card wallet."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from cards.card_image import card_image_etag, card_image_png
from handlers import members
from handlers.members.member_code import STEP_SECONDS, issue_member_code
from handlers.stores.attribution import attribute_opening
from handlers.wallet_card import wechat_card
from miniapp_api.auth import current_member
from miniapp_api.responses import Card, MemberCode, WechatCard
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanText, IsoDate
from wxmember.core.openapi import NOT_MODIFIED, Binary
from wxmember.core.web import json_response

routes = Routes()
NO_STORE = {"Cache-Control": "no-store"}

# The name's real rules (trimmed length, characters) are the handler's; this only bounds input.
NameInput = Annotated[str, StringConstraints(max_length=256), CleanText]
PhoneCode = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
# A friend's share code from the share path (`GET /referrals`); the handler checks it.
ReferralCode = Annotated[str, StringConstraints(max_length=32, pattern=r"^[0-9A-Za-z -]*$")]


class OpenCardBody(Body):
    name: NameInput
    birthday: IsoDate
    gender: Annotated[str, StringConstraints(max_length=32)] | None = None
    phone_code: PhoneCode | None = None
    referral_code: ReferralCode | None = None
    # the launch scene of a store's mini-program code (`store_<code>`): the store it opened at
    store_scene: Annotated[str, StringConstraints(max_length=64), CleanText] | None = None


@routes.post(
    "/card",
    body=OpenCardBody,
    status=201,
    response=Card,
    errors=(
        "card_exists",
        "phone_taken",
        "invalid_name",
        "invalid_birthday",
        "invalid_phone_code",
        "invalid_referral_code",
        "self_referral",
    ),
)
async def open_card(request: web.Request, body: OpenCardBody) -> web.Response:
    """Open the member card (once); `store_scene`, the mini-program's launch scene of a store's
    code (`store_<code>`), records the store it was opened at."""
    services = request.config_dict[keys.SERVICES]
    member = await members.open_card(
        services,
        current_member(request),
        name=body.name,
        birthday=body.birthday,
        gender=body.gender,
        phone_code=body.phone_code,
        referral_code=body.referral_code,
    )
    await attribute_opening(services, member, body.store_scene)
    return json_response(await members.card_view(services, member), status=201, headers=NO_STORE)


@routes.get("/card", response=Card, errors=("card_required",))
async def show_card(request: web.Request) -> web.Response:
    """The card: number, tier, points, growth, the phone masked."""
    member = current_member(request)
    services = request.config_dict[keys.SERVICES]
    return json_response(await members.card_view(services, member), headers=NO_STORE)


def _etag_matches(request: web.Request, etag: str) -> bool:
    wanted = request.if_none_match
    return bool(wanted) and any(tag.value in (etag, "*") for tag in wanted or ())


@routes.get(
    "/card/image",
    response=Binary("image/png"),
    also=(NOT_MODIFIED,),
    errors=("card_required",),
)
async def card_image(request: web.Request) -> web.Response:
    """The card face as a PNG (revalidated with its ETag)."""
    member = current_member(request)
    services = request.config_dict[keys.SERVICES]
    # the face must be redrawn when the tier or the name changes: always revalidate
    headers = {"Cache-Control": "private, no-cache"}
    etag = await card_image_etag(services, member)
    if _etag_matches(request, etag):
        response = web.Response(status=304, headers=headers)
    else:
        etag, png = await card_image_png(services, member)
        response = web.Response(body=png, content_type="image/png", headers=headers)
    response.etag = etag
    return response


@routes.get("/card/code", response=MemberCode, errors=("card_required",))
async def member_code(request: web.Request) -> web.Response:
    """The dynamic member code the cashier scans, and when it expires."""
    member = current_member(request)
    code = issue_member_code(request.config_dict[keys.SERVICES], member)
    return json_response(
        {
            "code": code.payload,
            "expires_at": code.expires_at.isoformat(),
            "refresh_at": code.refresh_at.isoformat(),
            "period_seconds": STEP_SECONDS,
            "qr_svg": code.qr_svg(),
        },
        headers=NO_STORE,
    )


@routes.get(
    "/card/wechat-card",
    response=WechatCard,
    errors=(
        "card_required",
        "wallet_card_not_defined",
        "wallet_card_not_live",
        "wechat_unavailable",
    ),
)
async def wechat_wallet_card(request: web.Request) -> web.Response:
    """The card id and signed `cardExt` for `wx.addCard` (WeChat's card wallet), and whether the
    member holds the card there already; 409 while the brand's card is not approved by WeChat."""
    services = request.config_dict[keys.SERVICES]
    answer = await wechat_card(services, current_member(request))
    return json_response(answer, headers=NO_STORE)
