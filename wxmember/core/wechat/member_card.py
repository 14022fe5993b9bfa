"""The brand's WeChat member card (会员卡) as WeChat's card API wants it: the one place that
builds the bodies of `card/create`, `card/update` and of a member's card activation and updates.

The card (`card_type` MEMBER_CARD) carries the member's card number as its code
(`use_custom_code`: the code is ours, given at activation), shown as text: the till takes the
dynamic member code from the mini-program, never the static number, so the card's centre button
(`center_title`, `center_app_brand_user_name` = the mini-program's original id + `@app`,
`center_app_brand_pass` = its page) opens the mini-program's card page where that code is. The
points balance is WeChat's own bonus field (`supply_bonus`); the tier and the coupons count are
custom fields (`FIELD_NAME_TYPE_LEVEL`, `FIELD_NAME_TYPE_COUPON`). Activation is WeChat's
one-click activation (`wx_activate`, `wx_activate_after_submit`). No stored value
(`supply_balance` false): money stays at the till.

`activate_body` and `update_user_body` carry a member's state to their card in the wallet
(`card/membercard/activate`, then `card/membercard/updateuser`), the custom fields numbered as
the definition numbers them (`field_numbers`).

`card/update` may change only what WeChat lets a created card change: never the brand name, the
code settings, the stock or the validity; a change of title or logo sends the card to review
again (WeChat answers `send_check`).

Limits are WeChat's, counted as WeChat counts them: a Chinese character is one, two other
characters are one (`text_units` counts half-characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

COLOURS: MappingProxyType[str, str] = MappingProxyType(
    {
        "Color010": "#63b359",
        "Color020": "#2c9f67",
        "Color030": "#509fc9",
        "Color040": "#5885cf",
        "Color050": "#9062c0",
        "Color060": "#d09a45",
        "Color070": "#e4b138",
        "Color080": "#ee903c",
        "Color081": "#f08500",
        "Color082": "#a9d92d",
        "Color090": "#dd6549",
        "Color100": "#cc463d",
        "Color101": "#cf3e36",
        "Color102": "#5e6671",
    }
)
"""WeChat's named card colours and the hex value each stands for (`card/getcolors`)."""

# the most characters (a Chinese character each; two others count one) WeChat accepts
TITLE_MAX = 9
BRAND_NAME_MAX = 12
NOTICE_MAX = 16
DESCRIPTION_MAX = 1024
PREROGATIVE_MAX = 1024
CENTER_TITLE_MAX = 6

CARD_TYPE = "MEMBER_CARD"
CODE_TYPE = "CODE_TYPE_TEXT"
QUANTITY = 100_000_000  # WeChat's largest stock: every member may add the card
LEVEL_FIELD = "FIELD_NAME_TYPE_LEVEL"
COUPON_FIELD = "FIELD_NAME_TYPE_COUPON"


def text_units(text: str) -> int:
    """The length of `text` in half-characters, as WeChat limits card texts."""
    return sum(1 if ch.isascii() else 2 for ch in text)


def fits(text: str, most: int) -> bool:
    """Whether `text` is within `most` characters as WeChat counts them."""
    return text_units(text) <= 2 * most


@dataclass(frozen=True)
class CardFace:
    """What operators configure: the card's look, texts and the fields it shows."""

    logo_url: str
    color: str
    title: str
    notice: str
    description: str
    prerogative: str
    show_points: bool
    show_tier: bool
    show_coupons: bool


@dataclass(frozen=True)
class CardHome:
    """Whose card it is and where its centre button leads (the mini-program, when known)."""

    brand_name: str
    miniapp_original_id: str  # gh_...; empty: no centre button
    miniapp_page: str
    center_title: str


def field_numbers(*, show_tier: bool, show_coupons: bool) -> dict[str, int]:
    """The number of each custom field the card shows (`custom_field{n}`), by its name type.

    The one numbering of the card's custom fields: the card's definition and the values sent
    at activation and on every update follow it, so a value lands in the field it belongs to.
    """
    shown = [name for name, on in ((LEVEL_FIELD, show_tier), (COUPON_FIELD, show_coupons)) if on]
    return {name: number for number, name in enumerate(shown, start=1)}


def _custom_fields(face: CardFace) -> dict[str, Any]:
    numbers = field_numbers(show_tier=face.show_tier, show_coupons=face.show_coupons)
    return {f"custom_field{number}": {"name_type": name} for name, number in numbers.items()}


def _center(home: CardHome) -> dict[str, Any]:
    if not home.miniapp_original_id:
        return {}
    return {
        "center_title": home.center_title,
        "center_app_brand_user_name": f"{home.miniapp_original_id}@app",
        "center_app_brand_pass": home.miniapp_page,
    }


def _face_info(face: CardFace, home: CardHome) -> dict[str, Any]:
    """The base_info fields a created card may still change."""
    return {
        "logo_url": face.logo_url,
        "title": face.title,
        "color": face.color,
        "notice": face.notice,
        "description": face.description,
        **_center(home),
    }


def _member_fields(face: CardFace) -> dict[str, Any]:
    return {
        "supply_bonus": face.show_points,
        "supply_balance": False,
        "prerogative": face.prerogative,
        **_custom_fields(face),
    }


def create_body(face: CardFace, home: CardHome) -> dict[str, Any]:
    """The body of `card/create` for the brand's member card."""
    base_info = {
        "logo_url": face.logo_url,
        "brand_name": home.brand_name,
        "code_type": CODE_TYPE,
        "title": face.title,
        "color": face.color,
        "notice": face.notice,
        "description": face.description,
        "sku": {"quantity": QUANTITY},
        "date_info": {"type": "DATE_TYPE_PERMANENT"},
        "use_custom_code": True,
        "get_limit": 1,
        "can_give_friend": False,
        "can_share": False,
        **_center(home),
    }
    member_card = {
        "base_info": base_info,
        **_member_fields(face),
        "wx_activate": True,
        "wx_activate_after_submit": True,
    }
    return {"card": {"card_type": CARD_TYPE, "member_card": member_card}}


def update_body(card_id: str, face: CardFace, home: CardHome) -> dict[str, Any]:
    """The body of `card/update`: only what a created member card may change."""
    member_card = {"base_info": _face_info(face, home), **_member_fields(face)}
    return {"card_id": card_id, "member_card": member_card}


@dataclass(frozen=True)
class MemberCardState:
    """What one member's card in the wallet shows, read from the member as it is now.

    `record_bonus` is the member-facing text of the reason of their latest points change.
    `show_*` are the definition's choices: a field the card does not show is never sent.
    """

    card_id: str
    code: str
    bonus: int
    tier_name: str
    coupons: int
    record_bonus: str
    show_points: bool
    show_tier: bool
    show_coupons: bool


def _field_values(state: MemberCardState, prefix: str) -> dict[str, str]:
    numbers = field_numbers(show_tier=state.show_tier, show_coupons=state.show_coupons)
    values = {LEVEL_FIELD: state.tier_name, COUPON_FIELD: str(state.coupons)}
    return {f"{prefix}{number}": values[name] for name, number in numbers.items()}


def activate_body(state: MemberCardState) -> dict[str, Any]:
    """The body of `card/membercard/activate`: the card number as the membership number and
    the code, with the balance and the fields the card shows."""
    body: dict[str, Any] = {
        "membership_number": state.code,
        "code": state.code,
        "card_id": state.card_id,
    }
    if state.show_points:
        body |= {"init_bonus": state.bonus, "init_bonus_record": state.record_bonus}
    return body | _field_values(state, "init_custom_field_value")


def update_user_body(state: MemberCardState) -> dict[str, Any]:
    """The body of `card/membercard/updateuser`: the balance as an absolute `bonus` (never
    `add_bonus`), so a repeated or coalesced call leaves the card showing the latest state."""
    body: dict[str, Any] = {"code": state.code, "card_id": state.card_id}
    if state.show_points:
        body |= {"bonus": state.bonus, "record_bonus": state.record_bonus}
    return body | _field_values(state, "custom_field_value")
