"""Members' cards in the fake WeChat's card wallet (卡包): what each user would see.

One `WalletEntry` per card code added to a wallet, keyed by `(card_id, code)` in
`FakeWeChat.wallet`. Adding a card (`wx.addCard` with a signed `cardExt`) makes the entry,
`card/membercard/activate` activates it once, `card/membercard/updateuser` changes what it
shows, and the user deleting it marks it deleted. Every body received is kept, so tests can
count the calls as well as read the state.

The `wx_card` API ticket (`GET /cgi-bin/ticket/getticket?type=wx_card`) signs a `cardExt`:
each call issues a new ticket for the appid, valid for `expires_in` (7200 s), and earlier ones
keep working until their own expiry. Adding checks the `cardExt` as WeChat does, written apart
from the service's signing on purpose: SHA1 of the sorted values of the ticket, `timestamp`,
`card_id`, `code` and `nonce_str` (wechatpy `WeChatCardSigner`; the card JS-API documentation).
Errcodes from WeChat's card error table (Cards_and_Offer/Card_coupons_error_code): 40080
invalid CardExt (a bad signature, a missing field), 40078 invalid card status (not approved),
40116 invalid code (a code someone else holds); an unknown card id is 40073 `invalid card id`,
which is what the platform answers card calls with (its errmsg "invalid card id hint").
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wxmember.core.fake_wechat.state import FakeAPIError

if TYPE_CHECKING:
    from wxmember.core.fake_wechat.state import FakeWeChat

TICKET_LIFETIME = 7200
TICKET_TYPES = frozenset({"wx_card", "jsapi"})


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


@dataclass
class Ticket:
    """An API ticket the fake issued (`wx_card` or `jsapi`) for one appid."""

    value: str
    appid: str
    kind: str
    expires_at: float


def get_ticket(state: FakeWeChat, appid: str, kind: str | None) -> dict[str, Any]:
    """GET /cgi-bin/ticket/getticket: a new ticket of `type` for the token's appid."""
    if kind not in TICKET_TYPES:
        raise FakeAPIError(40097, "invalid args, type")
    ticket = Ticket(secrets.token_urlsafe(64), appid, kind, state.now() + TICKET_LIFETIME)
    state.tickets.append(ticket)
    return {"errcode": 0, "errmsg": "ok", "ticket": ticket.value, "expires_in": TICKET_LIFETIME}


def _signature(*values: str) -> str:
    return hashlib.sha1("".join(sorted(values)).encode("utf-8")).hexdigest()


def _ext_fields(card_ext: str) -> dict[str, str]:
    try:
        ext = json.loads(card_ext)
    except ValueError:
        raise FakeAPIError(40080, "invalid cardext") from None
    if not isinstance(ext, dict):
        raise FakeAPIError(40080, "invalid cardext")
    for name in ("code", "timestamp", "nonce_str", "signature"):
        if not isinstance(ext.get(name), str) or not ext[name]:
            raise FakeAPIError(40080, f"invalid cardext, {name} missing")
    return {name: value for name, value in ext.items() if isinstance(value, str)}


def add_card(state: FakeWeChat, openid: str, card_id: str, card_ext: str) -> dict[str, str]:
    """`wx.addCard` by `openid`: checks the card and the `cardExt`, makes the wallet entry and
    returns the fields of the `user_get_card` event WeChat pushes to the Official Account."""
    from wxmember.core.fake_wechat.cards import VERIFY_OK

    card = state.cards.get(card_id)
    if card is None:
        raise FakeAPIError(40073, "invalid card id")
    if card.status != VERIFY_OK:
        raise FakeAPIError(40078, "invalid card status, the card is not approved")
    ext = _ext_fields(card_ext)
    signed = (ext["timestamp"], card_id, ext["code"], ext["nonce_str"])
    now = state.now()
    live = [
        t for t in state.tickets if t.appid == card.appid and t.kind == "wx_card"
        and t.expires_at > now
    ]  # fmt: skip
    if not any(_signature(t.value, *signed) == ext["signature"] for t in live):
        raise FakeAPIError(40080, "invalid cardext, signature error")
    code = ext["code"]
    held = state.wallet.get((card_id, code))
    if held is not None and not held.deleted:
        raise FakeAPIError(40116, "invalid code, the code is in a wallet already")
    outer_str = ext.get("outer_str", "")
    state.wallet[(card_id, code)] = WalletEntry(card_id, code, openid, outer_str=outer_str)
    return {
        "Event": "user_get_card",
        "CardId": card_id,
        "UserCardCode": code,
        "IsGiveByFriend": "0",
        "OuterStr": outer_str,
        "FromUserName": openid,
    }


def delete_card(state: FakeWeChat, openid: str, card_id: str, code: str) -> dict[str, str]:
    """The user deletes the card from the wallet: the `user_del_card` event's fields."""
    entry = state.wallet.get((card_id, code))
    if entry is None or entry.deleted or entry.openid != openid:
        raise FakeAPIError(40056, "invalid serial code")
    entry.deleted = True
    return {
        "Event": "user_del_card",
        "CardId": card_id,
        "UserCardCode": code,
        "FromUserName": openid,
    }
