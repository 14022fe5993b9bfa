"""The `cardExt` of `wx.addCard`: which member's card number goes into the wallet, signed.

`wx.addCard({cardList: [{cardId, cardExt}]})` takes `cardExt` as a JSON *string*. For a card
with its own codes (`use_custom_code`) it names the `code`; `timestamp` (seconds, a string) and
`nonce_str` make each one distinct; `outer_str` is a tag WeChat hands back in the
`user_get_card` event (where the card was added from). `signature` is WeChat's card signature:
the SHA1 of the signed values sorted as strings and joined without separator. The values are
the `wx_card` API ticket, `timestamp`, `card_id`, `code` and `nonce_str` (and `openid` for cards
bound to one user, which ours are not); `outer_str` is not signed. This is wechatpy's
`WeChatCardSigner` and the card JS-API documentation's rule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


def card_signature(*values: str) -> str:
    """WeChat's card signature: SHA1 of the values sorted and concatenated."""
    return hashlib.sha1("".join(sorted(values)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CardExt:
    """The fields of one `cardExt`, before and after signing."""

    code: str
    timestamp: str
    nonce_str: str
    outer_str: str

    def signed(self, api_ticket: str, card_id: str) -> str:
        """The `cardExt` JSON string, signed with the API ticket for `card_id`."""
        signature = card_signature(api_ticket, self.timestamp, card_id, self.code, self.nonce_str)
        fields = {
            "code": self.code,
            "timestamp": self.timestamp,
            "nonce_str": self.nonce_str,
            "outer_str": self.outer_str,
            "signature": signature,
        }
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
