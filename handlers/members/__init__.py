"""Members and their cards: WeChat login and sessions, opening a card, card numbers, the dynamic
member code, the member's account, staff look-up.
"""

from __future__ import annotations

from handlers.members.cards import (
    age_on,
    card_view,
    check_birthday,
    check_gender,
    clean_name,
    find_member_for_pos,
    load_member,
    masked_phone,
    normalise_phone,
    open_card,
    phone_of,
    profile_view,
    resolve_phone,
    tier_of,
    tier_view,
    wechat_refusal,
)

__all__ = [
    "age_on",
    "card_view",
    "check_birthday",
    "check_gender",
    "clean_name",
    "find_member_for_pos",
    "load_member",
    "masked_phone",
    "normalise_phone",
    "open_card",
    "phone_of",
    "profile_view",
    "resolve_phone",
    "tier_of",
    "tier_view",
    "wechat_refusal",
]
