"""A member's card in WeChat's wallet, as its events show it on the member's record."""

from __future__ import annotations

from aiohttp import web

from admin.auth import STAFF, allow
from handlers.wallet_card.member_events import (
    WalletCardEventPage,
    event_public,
    member_wallet_events,
)
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Page
from wxmember.core.web import json_response, page_body

routes = Routes()


@routes.get(
    "/members/{member_id}/wallet-card-events",
    query=Page,
    response=WalletCardEventPage,
    errors=("member_not_found",),
)
@allow(*STAFF)
async def list_wallet_card_events(
    request: web.Request, member_id: int, query: Page
) -> web.Response:
    """What WeChat told us about the card in the member's wallet, newest first."""
    found = await member_wallet_events(member_id, query.cursor, query.limit)
    items = [event_public(event) for event in found]
    return json_response(page_body(items, [event.id for event in found], query.limit))
