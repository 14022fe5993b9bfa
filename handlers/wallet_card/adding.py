"""What the mini-program needs to put the member's card into WeChat's card wallet.

The mini-program calls `wx.addCard({cardList: [{cardId, cardExt}]})` with the card id and a
`cardExt` naming the member's card number as the code, signed with the `wx_card` API ticket
(`wxmember.core.wechat.card_ext`). WeChat lets the public add only a card its review approved,
so a card still in review or rejected is refused here (409 `wallet_card_not_live`) rather than
by WeChat on the member's phone; a brand without a card at WeChat is 409
`wallet_card_not_defined`; a member without a card 409 `card_required`. Without the ticket
(WeChat not answering) it is 503 `wechat_unavailable`: nothing is written, the member tries again.

`in_wallet` and `activated` say what the service knows from WeChat's events: a card held in
the wallet, and activated with the member's number.
"""

from __future__ import annotations

import secrets
from typing import Any

from handlers.wallet_card.definition import DEFINITION_ID
from handlers.wallet_card.refusals import ticket_refusal
from wxmember.core.context import Services
from wxmember.core.errors import Conflict
from wxmember.core.models import Member
from wxmember.core.models.wallet_card import (
    HolderState,
    ReviewState,
    WalletCard,
    WalletCardHolder,
)
from wxmember.core.wechat import WeChatError
from wxmember.core.wechat.card_ext import CardExt

OUTER_STR = "miniapp"  # handed back in `user_get_card`: the card was added from the mini-program


async def live_card_id() -> str:
    """The card id members may add; 409 when the brand has no card at WeChat or not approved."""
    row = await WalletCard.get_or_none(id=DEFINITION_ID)
    if row is None or row.card_id is None:
        raise Conflict(
            "The brand has no member card at WeChat yet.", code="wallet_card_not_defined"
        )
    if row.review_state != ReviewState.APPROVED:
        raise Conflict(
            "The member card is not live yet: WeChat has not approved it.",
            code="wallet_card_not_live",
            details={"review_state": ReviewState(row.review_state).value},
        )
    return row.card_id


async def wechat_card(services: Services, member: Member) -> dict[str, Any]:
    """The card id and signed `cardExt` for `wx.addCard`, and the card's state in the wallet."""
    code = member.require_card().card_no
    assert code is not None
    card_id = await live_card_id()
    try:
        ticket = await services.official.card_api_ticket()
    except WeChatError as exc:
        raise ticket_refusal(exc) from None
    ext = CardExt(
        code=code,
        timestamp=str(int(services.clock.now().timestamp())),
        nonce_str=secrets.token_hex(16),
        outer_str=OUTER_STR,
    )
    holder = await WalletCardHolder.get_or_none(member_id=member.id)
    held = holder is not None and holder.state == HolderState.HELD and holder.card_id == card_id
    return {
        "card_id": card_id,
        "card_ext": ext.signed(ticket, card_id),
        "in_wallet": held,
        "activated": held and holder is not None and holder.activated_at is not None,
    }
