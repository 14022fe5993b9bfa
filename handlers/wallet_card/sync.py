"""Sending the member card to WeChat, and WeChat's review of it.

`sync_card` creates the card at WeChat (`card/create`) while the definition has no card id,
and updates it (`card/update`) after that; each is one call, made by whoever claimed the row
first (`sync_claimed_until`: a second operator pressing the button meanwhile gets 409
`wallet_card_sync_in_progress`, never a second card). A created card, and an update WeChat
sends to review again (`send_check`), are `submitted`; a failure is kept on the row
(`sync_error`) and answered with a stable code (`handlers.wallet_card.refusals`), and the
same call can simply be made again. Every send is audited (`wallet_card.send`) with what came
of it: the card created, updated, or WeChat's refusal.

WeChat's verdict arrives as an Official Account event (`card_pass_check`, or
`card_not_pass_check` with `RefuseReason`): `record_review` sets the state. An event for a card
id this brand does not have is logged and ignored.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tortoise.expressions import Q

from handlers import audit
from handlers.wallet_card.definition import (
    DEFINITION_ID,
    CardDefinition,
    card_home,
    current_definition,
    definition_of,
)
from handlers.wallet_card.refusals import sync_error_text, wechat_refusal
from wxmember.core.context import Services
from wxmember.core.errors import Conflict
from wxmember.core.models.operators import Operator
from wxmember.core.models.wallet_card import ReviewState, WalletCard
from wxmember.core.wechat import WeChatError
from wxmember.core.wechat.member_card import create_body, update_body

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60  # longer than a call with its retries; a crashed claim lapses by then


async def _claim(services: Services) -> WalletCard:
    now = services.clock.now()
    claimed = await WalletCard.filter(
        Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now), id=DEFINITION_ID
    ).update(sync_claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    row = await WalletCard.get_or_none(id=DEFINITION_ID)
    if row is None or not row.title:
        if claimed:
            await WalletCard.filter(id=DEFINITION_ID).update(sync_claimed_until=None)
        raise Conflict("Save the card's definition first.", code="wallet_card_not_defined")
    if not claimed:
        raise Conflict(
            "The card is being sent to WeChat right now; look again in a moment.",
            code="wallet_card_sync_in_progress",
        )
    if not row.logo_url:
        await WalletCard.filter(id=DEFINITION_ID).update(sync_claimed_until=None)
        raise Conflict("Upload the card's logo first.", code="wallet_card_logo_missing")
    return row


async def _audit(actor: Operator, row: WalletCard, after: dict[str, Any]) -> None:
    before = {"card_id": row.card_id, "synced_version": row.synced_version}
    after = {"version": row.version} | after
    await audit.record(
        actor, "wallet_card.send", "wallet_card", DEFINITION_ID, before=before, after=after
    )


async def sync_card(services: Services, actor: Operator) -> CardDefinition:
    """Send the saved definition to WeChat: create the card once, update it after (audited)."""
    row = await _claim(services)
    definition = definition_of(row)
    home = card_home(services)
    values: dict[str, Any] = {"sync_claimed_until": None}
    try:
        if row.card_id is None:
            card_id = await services.official.create_card(create_body(definition.face(), home))
            values |= {"card_id": card_id}
            to_review = True
        else:
            body = update_body(row.card_id, definition.face(), home)
            to_review = await services.official.update_card(body)
    except WeChatError as exc:
        values["sync_error"] = sync_error_text(exc)
        await WalletCard.filter(id=DEFINITION_ID).update(**values)
        await _audit(actor, row, {"outcome": "failed", "error": values["sync_error"]})
        raise wechat_refusal(exc) from None
    except BaseException:
        await WalletCard.filter(id=DEFINITION_ID).update(**values)
        raise
    values |= {
        "sync_error": None,
        "synced_version": row.version,
        "synced_at": services.clock.now(),
    }
    if to_review:
        values |= {"review_state": ReviewState.SUBMITTED, "refuse_reason": None}
    await WalletCard.filter(id=DEFINITION_ID).update(**values)
    outcome = "created" if row.card_id is None else "updated"
    await _audit(actor, row, {"outcome": outcome, "card_id": values.get("card_id", row.card_id)})
    log.info("member card sent to WeChat", extra={"version": row.version})
    return await current_definition()


async def record_review(
    services: Services, card_id: str, *, approved: bool, reason: str = ""
) -> bool:
    """Record WeChat's review of the card; False (logged) when the card id is not ours."""
    values: dict[str, Any] = {"reviewed_at": services.clock.now()}
    if approved:
        values |= {"review_state": ReviewState.APPROVED, "refuse_reason": None}
    else:
        values |= {"review_state": ReviewState.REJECTED, "refuse_reason": reason[:512] or None}
    updated = await WalletCard.filter(id=DEFINITION_ID, card_id=card_id).update(**values)
    if not updated:
        log.warning("card review event for an unknown card ignored", extra={"card": card_id})
        return False
    log.info("member card reviewed", extra={"approved": approved})
    return True
