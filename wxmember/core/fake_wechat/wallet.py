"""Members' cards in the fake WeChat's card wallet (卡包): what each user would see.

One `WalletEntry` per card code added to a wallet, keyed by `(card_id, code)` in
`FakeWeChat.wallet`. Adding a card (`wx.addCard` with a signed `cardExt`) makes the entry,
`card/membercard/activate` activates it once, `card/membercard/updateuser` changes what it
shows, and the user deleting it marks it deleted. Every body received is kept, so tests can
count the calls as well as read the state.

`activate` and `update_user` follow WeChat's card error table (公众号 卡券错误码): an unknown
card id or a code never added is 40056 (invalid card id / invalid code), a card deleted by its
user 40127, a card WeChat has not approved (`CARD_STATUS_VERIFY_OK`) cannot be activated and a
code cannot be activated twice (40078 invalid card status: the table has no code of its own for
an activated code), and a code not yet activated cannot be updated (40078).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wxmember.core.fake_wechat.state import FakeAPIError

if TYPE_CHECKING:
    from wxmember.core.fake_wechat.state import FakeWeChat

CUSTOM_FIELDS = (1, 2, 3)


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


def _entry(state: FakeWeChat, appid: str, body: Mapping[str, Any]) -> WalletEntry:
    """The wallet entry a card call is about, refused as WeChat refuses it."""
    from wxmember.core.fake_wechat.cards import VERIFY_OK

    card_id, code = body.get("card_id"), body.get("code")
    if not isinstance(code, str) or not code:
        raise FakeAPIError(41011, "missing required fields: code")
    if not isinstance(card_id, str) or not card_id:
        raise FakeAPIError(41012, "missing card_id")
    card = state.cards.get(card_id)
    if card is None or card.appid != appid:
        raise FakeAPIError(40056, "invalid card id")
    entry = state.wallet.get((card_id, code))
    if entry is None:
        raise FakeAPIError(40056, "invalid code")
    if entry.deleted:
        raise FakeAPIError(40127, "invalid user-card status, the card was deleted")
    if not entry.activated and card.status != VERIFY_OK:
        raise FakeAPIError(40078, "invalid card status, the card is not approved")
    return entry


def _set_fields(entry: WalletEntry, body: Mapping[str, Any], prefix: str) -> None:
    for number in CUSTOM_FIELDS:
        value = body.get(f"{prefix}{number}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise FakeAPIError(40097, f"invalid args, {prefix}{number}")
        entry.custom_fields[number] = value


def _bonus(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise FakeAPIError(40097, f"invalid args, {name}")
    return value


def activate(state: FakeWeChat, appid: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /card/membercard/activate: once per code, on an approved card, in a wallet."""
    number = body.get("membership_number")
    if not isinstance(number, str) or not number:
        raise FakeAPIError(41011, "missing required fields: membership_number")
    entry = _entry(state, appid, body)
    if entry.activated:
        raise FakeAPIError(40078, "invalid card status, the code is already activated")
    bonus = _bonus(body, "init_bonus")
    _set_fields(entry, body, "init_custom_field_value")
    entry.activated, entry.membership_number = True, number
    if bonus is not None:
        entry.bonus = bonus
    entry.activations.append(dict(body))
    return {"errcode": 0, "errmsg": "ok"}


def update_user(state: FakeWeChat, appid: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /card/membercard/updateuser: an activated card shows the new state.

    `bonus` sets the balance; `add_bonus` alone changes it (with both, `bonus` is shown, as
    WeChat documents it).
    """
    entry = _entry(state, appid, body)
    if not entry.activated:
        raise FakeAPIError(40078, "invalid card status, the code is not activated")
    bonus, add_bonus = _bonus(body, "bonus"), _bonus(body, "add_bonus")
    _set_fields(entry, body, "custom_field_value")
    if bonus is not None:
        entry.bonus = bonus
    elif add_bonus is not None:
        entry.bonus += add_bonus
    entry.updates.append(dict(body))
    return {
        "errcode": 0,
        "errmsg": "ok",
        "result_bonus": entry.bonus,
        "result_balance": 0,
        "openid": entry.openid,
    }
