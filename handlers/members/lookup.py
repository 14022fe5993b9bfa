"""Members as staff see them: search and detail, the phone masked unless an owner reveals it.

Search by card number (exact), phone number (through the keyed look-up hash: the numbers
themselves are never searched or decrypted in bulk) or name (contains); `find_members` reads
one search box typed by staff as the criterion it names. Revealing a phone number follows
`handlers.reveal`: owners only, and every reveal lands in the audit log.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.members.cards import load_member, masked_phone, tier_view
from handlers.members.numbers import CARD_NO_LENGTH
from handlers.reveal import check_may_reveal, revealed_phone
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.kernel import continue_after
from wxmember.core.models import Member, Operator

_PHONE_QUERY = re.compile(r"^\+?[0-9]{5,20}$")
_SEPARATORS = re.compile(r"[\s\-()]")
MOBILE_LENGTH = 11


def normalise_phone_query(raw: str) -> str:
    """A phone number as staff type it (`138 1234 5678`, `+86 138...`) in stored form."""
    text = re.sub(r"[\s\-()]", "", raw)
    if not _PHONE_QUERY.fullmatch(text):
        raise ValidationFailed("phone: digits, optionally with a leading +.", code="invalid_phone")
    if text.startswith("+86"):
        text = text[3:]
    return text


async def search_members(
    services: Services,
    *,
    card_no: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    after_id: int | None = None,
    limit: int = 20,
) -> list[Member]:
    """Live members matching every given criterion, newest first, `limit + 1` rows."""
    query = Member.filter(deleted_at=None)
    if card_no is not None:
        card_no = "".join(card_no.split())
        if not (card_no.isascii() and card_no.isdigit() and len(card_no) == CARD_NO_LENGTH):
            raise ValidationFailed("card_no: 16 digits.", code="invalid_card_no")
        query = query.filter(card_no=card_no)
    if phone is not None:
        query = query.filter(phone_hash=services.cipher.lookup_hash(normalise_phone_query(phone)))
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 32:
            raise ValidationFailed("name: 1 to 32 characters.", code="invalid_name")
        query = query.filter(name__icontains=name)
    query = continue_after(query, after_id)
    return await query.order_by("-id").limit(limit + 1).prefetch_related("tier")


def member_query(text: str) -> dict[str, str]:
    """What staff typed in one search box, as the criterion it names.

    16 digits are a card number, and 11 digits or a number after `+` (a country code) a phone
    number, each found by its index (spaces, dashes and brackets between digits are ignored);
    any other text is part of a name; nothing typed is no criterion. Other runs of digits are
    400 `invalid_member_query`: numbers are never searched by a part of them.
    """
    text = text.strip()
    if not text:
        return {}
    compact = _SEPARATORS.sub("", text)
    international = compact.removeprefix("+")
    if compact.startswith("+") and international.isascii() and international.isdigit():
        return {"phone": compact}
    if not (compact.isascii() and compact.isdigit()):
        return {"name": text}
    if len(compact) == CARD_NO_LENGTH:
        return {"card_no": compact}
    if len(compact) == MOBILE_LENGTH:
        return {"phone": compact}
    raise ValidationFailed(
        "Type a whole card number (16 digits), a whole mobile number (11 digits) or a name.",
        code="invalid_member_query",
        details={"field": "q"},
    )


async def find_members(
    services: Services, text: str, *, after_id: int | None = None, limit: int = 20
) -> list[Member]:
    """Live members found by what staff typed in one search box (`member_query`), newest first,
    `limit + 1` rows."""
    criteria = member_query(text)
    return await search_members(
        services,
        card_no=criteria.get("card_no"),
        phone=criteria.get("phone"),
        name=criteria.get("name"),
        after_id=after_id,
        limit=limit,
    )


def staff_view(services: Services, member: Member, *, phone: str | None = None) -> dict[str, Any]:
    """A member for the admin console; `phone` given in full only when revealed."""
    return {
        "id": member.id,
        "card_no": member.card_no,
        "name": member.name,
        "gender": member.gender,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "phone": phone if phone is not None else masked_phone(services, member),
        "phone_revealed": phone is not None,
        "tier": tier_view(member.tier),
        "points": member.points_balance,
        "points_debt": member.points_debt,
        "growth": member.growth_total,
        "follows_official_account": member.official_openid is not None,
        "card_opened_at": member.card_opened_at.isoformat() if member.card_opened_at else None,
        "created_at": member.created_at.isoformat(),
    }


async def member_detail(
    services: Services, actor: Operator, member_id: int, *, reveal_phone: bool = False
) -> dict[str, Any]:
    """One member; with `reveal_phone` (owners only, audited) the phone number in full."""
    if reveal_phone:
        check_may_reveal(actor)
    member = await load_member(member_id)
    phone = None
    if reveal_phone:
        phone = await revealed_phone(services, actor, "member", member.id, member.phone_enc)
    view = staff_view(services, member, phone=phone)
    view["birthday_changes"] = member.birthday_changes
    return view
