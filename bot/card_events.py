"""WeChat's review of the member card, as the Official Account webhook receives it.

`card_pass_check` (approved) and `card_not_pass_check` (rejected, with `RefuseReason`) come from
WeChat's system account, about the card in `CardId`. Recording one twice sets the same state,
so a retried push needs no de-duplication. What the review does is `handlers.wallet_card`'s.
"""

from __future__ import annotations

from bot.push import Push, text
from handlers.wallet_card import record_review
from wxmember.core.context import Services

_VERDICTS = {"card_pass_check": True, "card_not_pass_check": False}


def card_review(push: Push) -> bool | None:
    """True or False for a card review event (approved or not), None for any other push."""
    return _VERDICTS.get(text(push, "Event").lower())


async def record_card_review(services: Services, push: Push, approved: bool) -> None:
    """Record the review a push reports (an event about another card is logged and ignored)."""
    await record_review(
        services, text(push, "CardId"), approved=approved, reason=text(push, "RefuseReason")
    )
