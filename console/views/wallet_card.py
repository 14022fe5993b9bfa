"""微信会员卡 (the member card in WeChat's card wallet): its definition, logo and review state.

Operators upload the logo (to WeChat, `media/uploadimg`), pick one of WeChat's card colours,
write the card's texts and choose the fields it shows, then save: the card is sent to WeChat
(created the first time, updated after) and waits for WeChat's review, whose verdict the page
shows. A sending that failed is kept on the card and can be sent again from here.

The page also shows how members' cards in the wallet are kept in step: how many are held,
activated, waiting to be sent and failing, and the latest failures with WeChat's words.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from console.i18n import catalogue, error_text
from console.pages import Pages, form_data, render
from console.session import current_staff
from console.views.members import Texts
from console.views.setup.forms import FORM, services_of
from handlers import wallet_card
from handlers.operators.permissions import Area
from handlers.wallet_card.backlog import sync_backlog
from wxmember.core.errors import DomainError
from wxmember.core.inputs import validate
from wxmember.core.wechat.member_card import COLOURS

pages = Pages()

PAGE = "/console/setup/wallet-card"
TEXTS = ("title", "notice", "description", "prerogative")
FLAGS = ("show_points", "show_tier", "show_coupons")


def _values_of(definition: wallet_card.CardDefinition) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(definition, name) for name in (*TEXTS, "color")}
    values |= {name: getattr(definition, name) for name in FLAGS}
    return values


async def _page(
    request: web.Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> web.Response:
    saved = request.query.get("saved")
    return render(
        request,
        "wallet_card/settings.html",
        status=status,
        current=await wallet_card.current_definition(),
        values=values,
        errors=errors,
        colours=list(COLOURS.items()),
        texts=TEXTS,
        flags=FLAGS,
        saved=saved if saved in ("updated", "logo", "sent") else None,
        field_error=field_error,
        backlog=await sync_backlog(),
        local=Texts(services_of(request)),
    )


def field_error(code: str) -> str:
    """What a refused field shows: this page's own text for its code, else the catalogue's."""
    return catalogue().get(f"wallet_card.errors.{code}") or error_text(code)


@pages.get("/setup/wallet-card", area=Area.SETUP)
async def wallet_card_page(request: web.Request) -> web.StreamResponse:
    """The member card: its state at WeChat, the logo and the definition's form."""
    return await _page(request, _values_of(await wallet_card.current_definition()), {})


@pages.post("/setup/wallet-card", area=Area.SETUP)
async def save_wallet_card(request: web.Request) -> web.StreamResponse:
    """Save the definition (audited) and, once there is a logo, send the card to WeChat."""
    form = dict(await form_data(request))
    raw: dict[str, Any] = {name: form.get(name, "") for name in (*TEXTS, "color")}
    raw |= {name: name in form for name in FLAGS}
    services = services_of(request)
    try:
        body = validate(wallet_card.WalletCardBody, raw)
        saved = await wallet_card.save_definition(services, current_staff(request), body)
        if saved.logo_url:
            await wallet_card.sync_card(services, current_staff(request))
    except DomainError as exc:
        field = str(exc.details.get("field", FORM))
        return await _page(request, raw, {field: exc.code}, exc.status)
    raise web.HTTPSeeOther(f"{PAGE}?saved=updated")


@pages.post("/setup/wallet-card/logo", area=Area.SETUP)
async def upload_wallet_card_logo(request: web.Request) -> web.StreamResponse:
    """Upload the card's logo to WeChat (audited)."""
    upload = (await request.post()).get("logo")
    current = await wallet_card.current_definition()
    if not isinstance(upload, FileField):
        return await _page(request, _values_of(current), {"logo": "invalid_logo"}, 400)
    content = upload.file.read(wallet_card.LOGO_MAX_BYTES + 1)
    try:
        await wallet_card.upload_logo(
            services_of(request), current_staff(request), (upload.filename or "")[:100], content
        )
    except DomainError as exc:
        return await _page(request, _values_of(current), {"logo": exc.code}, exc.status)
    raise web.HTTPSeeOther(f"{PAGE}?saved=logo")


@pages.post("/setup/wallet-card/sync", area=Area.SETUP)
async def send_wallet_card(request: web.Request) -> web.StreamResponse:
    """Send the saved card to WeChat again."""
    await form_data(request)
    try:
        await wallet_card.sync_card(services_of(request), current_staff(request))
    except DomainError as exc:
        current = await wallet_card.current_definition()
        return await _page(request, _values_of(current), {"sync": exc.code}, exc.status)
    raise web.HTTPSeeOther(f"{PAGE}?saved=sent")
