"""Share codes: one random code per card holder, the only thing a share link carries.

The code is drawn at random and stored (`ReferralCode`), so it says nothing about who shared
it: no member id, card number or phone in it, and it cannot be guessed from another code.
"""

from __future__ import annotations

import re
import secrets

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.context import Services
from wxmember.core.kernel import insert_once
from wxmember.core.models import Member
from wxmember.core.models.referrals import ReferralCode

# Crockford's base32 letters: no I, L, O or U, easy to read aloud or type.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 random bits
CODE_ATTEMPTS = 5
SHARE_PAGE = "pages/card/open"
_CODE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def new_code() -> str:
    """A fresh random share code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str | None:
    """The code as stored (upper case, no spaces), or None when it cannot be one."""
    text = "".join(raw.split()).upper()
    return text if _CODE.fullmatch(text) else None


def share_path(code: str) -> str:
    """The mini-program page a share opens, with the code (`wx.shareAppMessage` path)."""
    return f"{SHARE_PAGE}?referral_code={code}"


async def code_for(services: Services, member: Member) -> str:
    """The member's share code, drawn the first time it is asked for (card holders only)."""
    member.require_card()
    existing = await ReferralCode.get_or_none(member_id=member.id)
    if existing is not None:
        return existing.code
    for _ in range(CODE_ATTEMPTS):
        row = await insert_once(
            ReferralCode,
            None,
            member_id=member.id,
            code=new_code(),
            created_at=services.clock.now(),
        )
        if row is not None:
            return row.code
        existing = await ReferralCode.get_or_none(member_id=member.id)
        if existing is not None:  # a concurrent request drew it first
            return existing.code
    raise RuntimeError("could not draw a free share code")


async def owner_of(code: str, conn: BaseDBAsyncClient) -> int | None:
    """The id of the member a share code belongs to, or None."""
    normal = normalise_code(code)
    if normal is None:
        return None
    row = await ReferralCode.filter(code=normal).using_db(conn).first()
    return None if row is None else row.member_id
