"""A member's own account: profile changes, data export, account deletion.

The birthday can be corrected once after the card is opened (birthday gifts depend on it); the
limit is a conditional update on the `birthday_changes` counter. Deletion wipes every personal
field and clears the openid, so the same WeChat account starts afresh at its next login, while
the row (and the ledgers pointing at it) stays, now anonymous; the cached card face goes too.

A member may also ask the store: an owner hands them their export, or deletes the account
after typing its card number (`export_for_member`, `delete_at_member_request`); both are
audited, and operators may do neither (the export shows the phone number in full).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast
from uuid import UUID

from redis.exceptions import RedisError
from tortoise.expressions import F
from tortoise.fields.relational import BackwardFKRelation
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.followers.links import unlink_member
from handlers.mall.orders import forget_member as forget_mall_orders
from handlers.members.cards import (
    MAX_BIRTHDAY_CHANGES,
    card_face_cache_key,
    card_view,
    check_birthday,
    check_gender,
    clean_name,
    load_member,
    phone_of,
)
from handlers.messaging import forget_member as forget_messages
from handlers.operators.permissions import Area, may
from handlers.reveal import check_may_reveal
from handlers.segments.overview import forget_rfm
from handlers.subscriptions.grants import forget_member as forget_grants
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, Forbidden, ValidationFailed
from wxmember.core.member_cache import changed
from wxmember.core.models import Member, Operator
from wxmember.core.models.tags import MemberTag

log = logging.getLogger(__name__)

# Columns never exported: secrets and derived look-up values, not information about the member.
_PRIVATE_SUFFIXES = ("_hash", "secret", "token_version", "password")


async def update_profile(
    services: Services,
    member: Member,
    *,
    name: str | None = None,
    gender: str | None = None,
    birthday: date | None = None,
) -> Member:
    """Change name and gender freely, the birthday once; Conflict `birthday_locked` after."""
    if name is None and gender is None and birthday is None:
        raise ValidationFailed("Nothing to change.", code="nothing_to_change")
    member.require_card()
    updates: dict[str, Any] = {}
    condition: dict[str, Any] = {"id": member.id, "deleted_at": None}
    if name is not None:
        name = clean_name(name)
        if name != member.name:
            updates["name"] = name
            updates["card_version"] = F("card_version") + 1  # the name is on the card face
    if gender is not None and check_gender(gender) != member.gender:
        updates["gender"] = gender
    if birthday is not None and check_birthday(services, birthday) != member.birthday:
        if member.birthday_changes >= MAX_BIRTHDAY_CHANGES:
            raise _birthday_locked()
        updates |= {
            "birthday": birthday,
            "birth_month": birthday.month,
            "birth_day": birthday.day,
            "birthday_changes": F("birthday_changes") + 1,
        }
        condition["birthday_changes__lt"] = MAX_BIRTHDAY_CHANGES
    if updates and not await Member.filter(**condition).update(**updates):
        raise _birthday_locked()  # a concurrent request used the one change
    changed(member.id)
    return await load_member(member.id)


def _birthday_locked() -> Conflict:
    return Conflict(
        "The birthday was corrected once already; ask the store to change it.",
        code="birthday_locked",
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _public_row(services: Services, row: dict[str, Any]) -> dict[str, Any]:
    """A row as exported: encrypted columns decrypted (it is the member's own data), secrets
    and look-up hashes left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key.endswith("_enc"):
            if isinstance(value, str):
                try:
                    out[key.removesuffix("_enc")] = services.cipher.decrypt(value)
                except ValueError:
                    log.warning("export: cannot decrypt a column", extra={"column": key})
            continue
        if not any(key.endswith(suffix) for suffix in _PRIVATE_SUFFIXES):
            out[key] = _plain(value)
    return out


async def related_records(services: Services, member: Member) -> dict[str, list[dict[str, Any]]]:
    """Every row of other capabilities that points at the member, by table name."""
    records: dict[str, list[dict[str, Any]]] = {}
    meta = Member._meta
    for relation in sorted(meta.backward_fk_fields | meta.backward_o2o_fields):
        backward = cast(BackwardFKRelation, meta.fields_map[relation])
        model, field = backward.related_model, backward.relation_field
        rows = await model.filter(**{field: member.id}).order_by(model._meta.pk_attr).values()
        table = model._meta.db_table
        key = table if table not in records else f"{table}:{field}"
        records[key] = [_public_row(services, row) for row in rows]
    return records


async def export_member_data(services: Services, member: Member) -> dict[str, Any]:
    """Everything held about the member, their phone number in full (it is their own data)."""
    member = await load_member(member.id)
    card = None
    if member.has_card:
        card = await card_view(services, member) | {"phone": phone_of(services, member)}
    return {
        "exported_at": services.clock.now().isoformat(),
        "profile": {
            "id": member.id,
            "openid": member.openid,
            "unionid": member.unionid,
            "official_openid": member.official_openid,
            "name": member.name,
            "gender": member.gender,
            "birthday": _plain(member.birthday),
            "birthday_changes": member.birthday_changes,
            "phone": phone_of(services, member),
            "created_at": _plain(member.created_at),
            "updated_at": _plain(member.updated_at),
        },
        "card": card,
        "points": {"balance": member.points_balance, "debt": member.points_debt},
        "growth": member.growth_total,
        "records": await related_records(services, member),
    }


async def delete_account(
    services: Services, member: Member, *, actor: Operator | None = None
) -> None:
    """Wipe the member's personal fields everywhere and end their sessions.

    Ledgers, coupons and orders stay, anonymous. Pending mall shipments are cancelled (points and
    stock go back) and every shipping address is wiped; followers of the Official Account stay
    followers, no longer linked; subscribe grants are dropped; reminders and campaign messages
    lose their rendered text and those still waiting are skipped; the member's tags are taken
    off; their RFM scores and segment are dropped; the cached card face is dropped. Staff
    deleting at the member's request (`actor`) are audited in the same transaction.
    """
    await forget_mall_orders(services, member.id)
    async with in_transaction() as conn:
        await (
            Member.filter(id=member.id, deleted_at=None)
            .using_db(conn)
            .update(
                openid=None,
                unionid=None,
                official_openid=None,
                session_key_enc=None,
                name=None,
                gender=None,
                birthday=None,
                birth_month=None,
                birth_day=None,
                phone_enc=None,
                phone_hash=None,
                card_no=None,
                code_secret=None,
                card_version=F("card_version") + 1,
                token_version=F("token_version") + 1,
                deleted_at=services.clock.now(),
            )
        )
        changed(member.id)
        await unlink_member(member.id, using_db=conn)
        await forget_grants(member.id, using_db=conn)
        await forget_messages(member.id, using_db=conn)
        # tags describe the person: they go with the personal fields
        await MemberTag.filter(member_id=member.id).using_db(conn).delete()
        await forget_rfm(member.id, using_db=conn)
        if actor is not None:
            # who deleted which member, and nothing about the person
            await audit.record(
                actor,
                "member.delete",
                "member",
                member.id,
                after={"at": "member_request"},
                using_db=conn,
            )
    await _forget_card_face(services, member.id)
    log.info("member account deleted", extra={"member_id": member.id})


async def _forget_card_face(services: Services, member_id: int) -> None:
    try:
        await services.redis.delete(card_face_cache_key(member_id))
    except RedisError:
        log.warning("card image cache unavailable; it expires on its own", exc_info=True)


def check_may_erase(actor: Operator) -> None:
    """Owners only: 403 `erase_not_allowed` for anyone else."""
    if not may(actor, Area.ERASE):
        raise Forbidden("Only owners may delete a member's account.", code="erase_not_allowed")


async def export_for_member(services: Services, actor: Operator, member_id: int) -> dict[str, Any]:
    """A member's data export, handed over by an owner at the member's request; audited."""
    check_may_reveal(actor)
    member = await load_member(member_id)
    data = await export_member_data(services, member)
    await audit.record(actor, "member.export", "member", member.id)
    return data


async def delete_at_member_request(
    services: Services, actor: Operator, member_id: int, *, typed_card_no: str
) -> None:
    """An owner deletes an account the member asked to delete, after typing its card number
    (400 `invalid_confirm_card_no` when it differs); audited."""
    check_may_erase(actor)
    member = await load_member(member_id)
    member.require_card()
    if "".join(typed_card_no.split()) != member.card_no:
        raise ValidationFailed(
            "Type the member's card number to confirm.",
            code="invalid_confirm_card_no",
            details={"field": "confirm_card_no"},
        )
    await delete_account(services, member, actor=actor)
