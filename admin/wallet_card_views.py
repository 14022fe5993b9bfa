"""The member card in WeChat's card wallet for owners and operators: the definition, its logo,
and sending it to WeChat (every write audited); the backlog of members' cards kept in step."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from admin.auth import STAFF, allow, current_operator
from handlers import wallet_card
from handlers.wallet_card.backlog import sync_backlog
from handlers.wallet_card.shapes import WalletCardShown, WalletSyncShown
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import Body, CleanText
from wxmember.core.web import json_response

routes = Routes()

WECHAT_ERRORS = ("wechat_card_refused", "wechat_unavailable", "wechat_rate_limited")
SYNC_ERRORS = (*WECHAT_ERRORS, "wallet_card_sync_in_progress")
# base64 of the logo's limit, with room for a little more so the size is judged as bytes
MAX_BASE64 = 4 * (wallet_card.LOGO_MAX_BYTES // 3 + 1) + 1024


class LogoBody(Body):
    """The logo: a PNG or JPEG of at most 512 KB, base64-encoded, and its file name."""

    content_base64: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_BASE64, pattern=r"^[A-Za-z0-9+/=]+$"),
        Field(json_schema_extra={"error_code": "invalid_logo"}),
    ]
    filename: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=100), CleanText
    ] = "logo.png"


@routes.get("/wallet-card", response=WalletCardShown)
@allow(*STAFF)
async def get_wallet_card(request: web.Request) -> web.Response:
    """The member card's definition and its review state at WeChat."""
    return json_response((await wallet_card.current_definition()).public())


@routes.get("/wallet-card/backlog", response=WalletSyncShown)
@allow(*STAFF)
async def get_wallet_card_backlog(request: web.Request) -> web.Response:
    """The sync of members' cards in the WeChat wallet: how many are held, activated, waiting
    to be sent and failing, and the latest failures (card numbers masked)."""
    return json_response(await sync_backlog())


@routes.put(
    "/wallet-card",
    body=wallet_card.WalletCardBody,
    response=WalletCardShown,
    errors=("brand_name_too_long", *SYNC_ERRORS),
)
@allow(*STAFF)
async def put_wallet_card(request: web.Request, body: wallet_card.WalletCardBody) -> web.Response:
    """Save the member card's definition whole (audited) and, once it has a logo, send it to
    WeChat: created the first time, updated after. When WeChat refuses or fails, the
    definition stays saved with the error (`sync_error`) and `POST /wallet-card/sync` sends
    it again."""
    services = request.config_dict[keys.SERVICES]
    saved = await wallet_card.save_definition(services, current_operator(request), body)
    if saved.logo_url:
        saved = await wallet_card.sync_card(services, current_operator(request))
    return json_response(saved.public())


@routes.post(
    "/wallet-card/sync",
    response=WalletCardShown,
    errors=("wallet_card_not_defined", "wallet_card_logo_missing", *SYNC_ERRORS),
)
@allow(*STAFF)
async def sync_wallet_card(request: web.Request) -> web.Response:
    """Send the saved definition to WeChat again (after a failure, or after a new logo)."""
    services = request.config_dict[keys.SERVICES]
    sent = await wallet_card.sync_card(services, current_operator(request))
    return json_response(sent.public())


@routes.post(
    "/wallet-card/logo",
    body=LogoBody,
    response=WalletCardShown,
    errors=("invalid_logo", "logo_too_large", *WECHAT_ERRORS),
)
@allow(*STAFF)
async def upload_wallet_card_logo(request: web.Request, body: LogoBody) -> web.Response:
    """Upload the card's logo to WeChat (`media/uploadimg`) and keep its URL (audited); send
    the card again to show it."""
    services = request.config_dict[keys.SERVICES]
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "content_base64: not base64.", code="invalid_logo", details={"field": "content_base64"}
        ) from None
    saved = await wallet_card.upload_logo(
        services, current_operator(request), body.filename, content
    )
    return json_response(saved.public())
