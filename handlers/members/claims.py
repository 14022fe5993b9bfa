"""Claiming a member moved in from another system (handlers/member_import/).

An imported member has a card, points and a tier but no WeChat identity. When someone opens a
card in the mini-program with a phone number whose keyed hash matches an unclaimed imported
member, their WeChat identity moves onto that member (card number, points, tier and growth
kept) instead of a new card being opened: the row they logged in with, empty but for the
identity, is retired (identity cleared, marked deleted, its sessions ended), so their next
request logs in again and lands on the claimed member.

One winner: the identity is attached by an update conditional on the member still having no
openid, so of two WeChat users claiming the same phone at once, one attaches and the other is
told the phone belongs to another card (409 `phone_taken`), nothing written on their side.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from wxmember.core.context import Services
from wxmember.core.kernel import get_member, lock_member
from wxmember.core.member_cache import changed
from wxmember.core.models import Member
from wxmember.core.models.member_imports import ImportedMember

log = logging.getLogger(__name__)


class _Lost(Exception):
    """Another WeChat user claimed the member first: roll back."""


async def unclaimed_member(phone_hash: str) -> Member | None:
    """The live imported member with this phone and no WeChat identity yet, if any."""
    found = await Member.filter(
        phone_hash=phone_hash, openid=None, deleted_at=None, card_no__isnull=False
    ).first()
    if found is None or not await ImportedMember.exists(member_id=found.id):
        return None
    return found


async def claim_imported(
    services: Services,
    member: Member,
    phone_hash: str,
    *,
    name: str,
    birthday: date,
    gender: str | None,
) -> Member | None:
    """Attach `member`'s WeChat identity to the unclaimed imported member with this phone;
    the claimed member, or None when there is none to claim (or another claim won)."""
    target = await unclaimed_member(phone_hash)
    if target is None or target.id == member.id:
        return None
    now = services.clock.now()
    try:
        async with in_transaction() as conn:
            shell = (await lock_member(conn, member.id)).row
            if shell.card_no is not None or shell.openid is None:
                return None
            identity = {
                "openid": shell.openid,
                "unionid": shell.unionid,
                "official_openid": shell.official_openid,
                "session_key_enc": shell.session_key_enc,
            }
            # The identity columns are unique: free them on the login row before moving them.
            await (
                Member.filter(id=shell.id)
                .using_db(conn)
                .update(
                    openid=None,
                    unionid=None,
                    official_openid=None,
                    session_key_enc=None,
                    deleted_at=now,
                    token_version=F("token_version") + 1,
                )
            )
            claimed = await (
                Member.filter(id=target.id, openid=None, deleted_at=None)
                .using_db(conn)
                .update(card_version=F("card_version") + 1, **identity)
            )
            if not claimed:
                raise _Lost()
            missing = _missing_fields(target, name, birthday, gender)
            if missing:
                await Member.filter(id=target.id).using_db(conn).update(**missing)
            await ImportedMember.filter(member_id=target.id).using_db(conn).update(claimed_at=now)
    except _Lost:
        return None
    changed(target.id)
    log.info("imported member claimed", extra={"member_id": target.id, "login_id": member.id})
    return await get_member(target.id, with_tier=True)


def _missing_fields(
    target: Member, name: str, birthday: date, gender: str | None
) -> dict[str, Any]:
    """What the card-opening form fills in where the import left a field blank."""
    fields: dict[str, Any] = {}
    if target.name is None:
        fields["name"] = name
    if target.birthday is None:
        fields |= {"birthday": birthday, "birth_month": birthday.month, "birth_day": birthday.day}
    if target.gender is None and gender is not None:
        fields["gender"] = gender
    return fields
