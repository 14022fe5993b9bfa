"""The member card's events, as the Official Account webhook receives them.

WeChat's review of the card: `card_pass_check` (approved) and `card_not_pass_check` (rejected,
with `RefuseReason`) come from WeChat's system account, about the card in `CardId`. Recording one
twice sets the same state, so a retried push needs no de-duplication.

The card in a member's wallet: `user_get_card`, `user_del_card`, `user_view_card`,
`user_enter_session_from_card`, `submit_membercard_user_info` and `update_member_card` come
from the member (`FromUserName`), about the code in `UserCardCode`. Each is kept once by the
database (`handlers.wallet_card.events`), so WeChat's retries, even concurrent ones, count once.
What the events do is `handlers.wallet_card`'s.
"""

from __future__ import annotations

import logging

from bot.push import Push, text
from handlers.wallet_card import WALLET_EVENTS, WalletPush, record_review, record_wallet_event
from wxmember.core.context import Services

log = logging.getLogger(__name__)

_VERDICTS = {"card_pass_check": True, "card_not_pass_check": False}
# the header of every push and the fields read into `WalletPush`: not repeated in its detail
_READ = frozenset(
    {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "CardId", "UserCardCode"}
)


def card_review(push: Push) -> bool | None:
    """True or False for a card review event (approved or not), None for any other push."""
    return _VERDICTS.get(text(push, "Event").lower())


async def record_card_review(services: Services, push: Push, approved: bool) -> None:
    """Record the review a push reports (an event about another card is logged and ignored)."""
    await record_review(
        services, text(push, "CardId"), approved=approved, reason=text(push, "RefuseReason")
    )


def wallet_event(push: Push) -> str | None:
    """The wallet event a push reports (lower case), or None for any other push."""
    event = text(push, "Event").lower()
    return event if event in WALLET_EVENTS else None


async def record_wallet_push(services: Services, push: Push, event: str) -> None:
    """Keep a wallet event once (and apply it); a push without a usable time is logged only."""
    created = text(push, "CreateTime")
    if not created.isdigit() or len(created) > 12:
        log.warning("wallet card event without a CreateTime ignored", extra={"event": event})
        return
    detail = {
        name: value[:256]
        for name, value in push.items()
        if name not in _READ and isinstance(value, str)
    }
    await record_wallet_event(
        services,
        WalletPush(
            event=event,
            openid=text(push, "FromUserName"),
            create_time=int(created),
            card_id=text(push, "CardId"),
            code=text(push, "UserCardCode"),
            detail=detail,
        ),
    )
