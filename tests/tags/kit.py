"""Builders for the tag tests: staff, members whose card numbers pass the Luhn check, tags."""

from __future__ import annotations

from handlers.members.numbers import new_card_number
from handlers.operators.accounts import create_operator
from handlers.tags import TagCreate, create_tag
from tests.factories import create_member
from wxmember.core.models import Member, Operator, Role
from wxmember.core.models.tags import Tag


async def staff(username: str = "olga", role: Role = Role.OPERATOR) -> Operator:
    """A staff account, straight through the handler (no session)."""
    return await create_operator(username, "correct-horse-battery", role)


async def carded_member(name: str = "张三") -> Member:
    """A member with an open card whose number is a real one (16 digits, Luhn digit)."""
    member = await create_member(name=name)
    member.card_no = new_card_number()
    await member.save(update_fields=["card_no"])
    return member


async def a_tag(actor: Operator, name: str = "VIP", **fields: object) -> Tag:
    return await create_tag(actor, TagCreate.model_validate({"name": name} | fields))


def csv_of(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"
