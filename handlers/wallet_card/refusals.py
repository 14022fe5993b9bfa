"""WeChat's refusals of the member card's calls, as the service answers them.

A card WeChat refuses (a field it does not take, a card id it does not know) is 409
`wechat_card_refused` with WeChat's errcode and message in the details; a quota is 429
`wechat_rate_limited`; anything else (busy, no answer, the deployment's credentials) is 503
`wechat_unavailable`. Never a 500: the definition is kept and the sync can be tried again.
A member adding the card to the wallet when the card API ticket cannot be had is 503
`wechat_unavailable` whatever WeChat answered: nothing the member can change would help.
"""

from __future__ import annotations

import logging

from wxmember.core.errors import Conflict, DomainError, TooManyRequests, UpstreamUnavailable
from wxmember.core.wechat import WeChatError, WeChatInvalidArgument, WeChatRateLimited

log = logging.getLogger(__name__)


def wechat_refusal(exc: WeChatError) -> DomainError:
    """The domain error for a failed card call."""
    log.warning("WeChat card call failed", extra={"endpoint": exc.endpoint, "errcode": exc.errcode})
    if isinstance(exc, WeChatInvalidArgument):
        return Conflict(
            f"WeChat refused the card: {exc.errmsg}",
            code="wechat_card_refused",
            details={"errcode": exc.errcode, "errmsg": exc.errmsg},
        )
    if isinstance(exc, WeChatRateLimited):
        return TooManyRequests(
            "WeChat asks us to slow down; try again in a minute.", code="wechat_rate_limited"
        )
    return UpstreamUnavailable(
        "WeChat is not answering right now; the card is saved, send it again shortly.",
        code="wechat_unavailable",
    )


def sync_error_text(exc: WeChatError) -> str:
    """What the definition keeps of a failed sync (shown to operators)."""
    return f"{exc.endpoint} errcode {exc.errcode}: {exc.errmsg}"[:512]


def ticket_refusal(exc: WeChatError) -> DomainError:
    """The domain error for a member's `wx.addCard` when the card API ticket failed."""
    log.warning(
        "WeChat card ticket unavailable", extra={"endpoint": exc.endpoint, "errcode": exc.errcode}
    )
    return UpstreamUnavailable(
        "WeChat is not answering right now; try adding the card again shortly.",
        code="wechat_unavailable",
    )
