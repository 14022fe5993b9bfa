"""Builders of the import tests: an operator, files of members, importing a text."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.member_import import import_members, source_from_text
from handlers.members.numbers import luhn_check_digit
from handlers.operators.accounts import create_operator
from wxmember.core.context import Services
from wxmember.core.models import Operator, Role
from wxmember.core.models.member_imports import MemberImport
from wxmember.core.models.stores import Store

# 2025-06-15 12:00 in Shanghai.
NOW = datetime(2025, 6, 15, 4, 0, tzinfo=UTC)
STORE = "SH001"
HEADER = "卡号,手机号,姓名,生日,等级,积分,积分到期日,累计成长值,本期成长值,门店,开卡日期"


def card(n: int) -> str:
    """A real card number (16 digits, Luhn digit) built from `n`."""
    body = f"{6_200_000_000_000_00 + n:015d}"
    return body + luhn_check_digit(body)


def phone(n: int) -> str:
    return f"139{n:08d}"


def row(n: int, **values: object) -> str:
    """A good row for member `n`; keyword values replace its cells."""
    cells: dict[str, object] = {
        "card_no": card(n),
        "phone": phone(n),
        "name": f"会员{n}",
        "birthday": "1990-05-17",
        "tier": "",
        "points": 120,
        "points_expire_on": "",
        "growth_total": 300,
        "period_growth": 100,
        "store": STORE,
        "opened_on": "2020-03-01",
    }
    cells |= values
    return ",".join(str(value) for value in cells.values())


def file_of(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join((header, *rows)) + "\r\n"


async def staff(username: str = "olga") -> Operator:
    return await create_operator(username, "correct-horse-battery", Role.OPERATOR)


async def the_store() -> Store:
    """The store the rows name by default (the import refuses a code no store has)."""
    defaults = {"name": "静安店", "created_at": NOW, "updated_at": NOW}
    return (await Store.get_or_create(code=STORE, defaults=defaults))[0]


async def run(services: Services, actor: Operator, text: str, **kwargs: object) -> MemberImport:
    """Import `text`, with the store the rows name by default recorded first."""
    await the_store()
    return await import_members(services, actor, source_from_text(text, "会员.csv"), **kwargs)  # type: ignore[arg-type]
