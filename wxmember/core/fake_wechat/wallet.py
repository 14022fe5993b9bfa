"""Members' cards in the fake WeChat's card wallet (卡包): what each user would see.

One `WalletEntry` per card code added to a wallet, keyed by `(card_id, code)` in
`FakeWeChat.wallet`. Adding a card (`wx.addCard` with a signed `cardExt`) makes the entry,
`card/membercard/activate` activates it once, `card/membercard/updateuser` changes what it
shows, and the user deleting it marks it deleted. Every body received is kept, so tests can
count the calls as well as read the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class WalletEntry:
    """One member card in one user's wallet."""

    card_id: str
    code: str
    openid: str
    outer_str: str = ""
    activated: bool = False
    membership_number: str | None = None
    bonus: int = 0
    # custom_field_value1..3 as last set, by the field's number
    custom_fields: dict[int, str] = field(default_factory=dict)
    deleted: bool = False
    activations: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
