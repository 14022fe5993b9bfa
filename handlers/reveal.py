"""Revealing personal data to staff: one rule for every record that holds a phone number.

Staff views show phone numbers masked (`138****5678`). An owner may ask for a number in full
(`?reveal=phone` on a member or a mall order); anyone else gets 403 `reveal_not_allowed`, and
every number shown in full lands in the audit log (`<target>.reveal_phone`: who saw which
record's number, never the number itself).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from handlers import audit
from handlers.operators.permissions import Area, may
from wxmember.core.context import Services
from wxmember.core.errors import Forbidden, ValidationFailed
from wxmember.core.inputs import Query
from wxmember.core.models import Operator

REVEALABLE = ("phone",)


class RevealQuery(Query):
    """`?reveal=phone` on a staff view of a record that holds a phone number."""

    reveal: Annotated[str, StringConstraints(max_length=16)] | None = None


def reveal_requested(raw: str | None) -> bool:
    """Whether staff asked to see the phone (`reveal=phone`); 400 `invalid_reveal` otherwise."""
    if not raw:
        return False
    if raw not in REVEALABLE:
        raise ValidationFailed("reveal: only `phone` can be revealed.", code="invalid_reveal")
    return True


def check_may_reveal(actor: Operator) -> None:
    """Owners only: 403 `reveal_not_allowed` for anyone else (ask before loading the record)."""
    if not may(actor, Area.REVEAL):
        raise Forbidden("Only owners may see phone numbers in full.", code="reveal_not_allowed")


async def revealed_phone(
    services: Services, actor: Operator, target_type: str, target_id: int, phone_enc: str | None
) -> str | None:
    """The phone number of a record in full, for an owner; audited when there is a number."""
    check_may_reveal(actor)
    if phone_enc is None:
        return None
    phone = services.cipher.decrypt(phone_enc)
    # the number itself never goes into the audit log: only that it was seen, and by whom
    await audit.record(
        actor, f"{target_type}.reveal_phone", target_type, target_id, after={"field": "phone"}
    )
    return phone
