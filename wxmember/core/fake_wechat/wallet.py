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

`activate` and `update_user` follow WeChat's card error table (公众号 卡券错误码): an unknown
card id or a code never added is 40056 (invalid card id / invalid code), a card deleted by its
user 40127, a card WeChat has not approved (`CARD_STATUS_VERIFY_OK`) cannot be activated and a
code cannot be activated twice (40078 invalid card status: the table has no code of its own for
an activated code), and a code not yet activated cannot be updated (40078).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wxmember.core.fake_wechat.state import FakeAPIError

if TYPE_CHECKING:
    from wxmember.core.fake_wechat.state import FakeWeChat

TICKET_LIFETIME = 7200
TICKET_TYPES = frozenset({"wx_card", "jsapi"})
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
