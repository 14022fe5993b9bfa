"""The import file's columns and the judgement of each row.

A header row names the columns (English or Chinese, any order, unknown columns ignored); only
`phone` is required, as a member moved in is claimed by their phone number when they open a
card in the mini-program. Each row is judged on its own: either an `ImportRow` ready to apply,
or a problem with the line, the field and a stable code (`PROBLEMS`), never failing the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from handlers.members.cards import NAME_MAX_LENGTH, age_on
from handlers.members.numbers import CARD_NO_LENGTH, luhn_valid
from handlers.points import MAX_AMOUNT
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import clean_text
from wxmember.core.models import Tier

COLUMNS: dict[str, tuple[str, ...]] = {
    "card_no": ("card_no", "card number", "卡号", "会员卡号"),
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码"),
    "name": ("name", "姓名"),
    "birthday": ("birthday", "生日"),
    "tier": ("tier", "等级", "会员等级"),
    "points": ("points", "积分", "积分余额"),
    "points_expire_on": ("points_expire_on", "points expire on", "积分到期日", "积分有效期"),
    "growth_total": ("growth_total", "lifetime growth", "累计成长值"),
    "period_growth": ("period_growth", "current period growth", "本期成长值"),
    "store": ("store", "门店", "开卡门店"),
    "opened_on": ("opened_on", "opened on", "开卡日期"),
}
_BY_HEADING = {heading: column for column, names in COLUMNS.items() for heading in names}

PROBLEMS = (
    "invalid_card_no",  # not 16 digits, or a wrong Luhn check digit
    "invalid_phone",
    "invalid_name",
    "invalid_birthday",
    "unknown_tier",
    "invalid_points",
    "invalid_points_expiry",  # not a date, or a day already past
    "invalid_growth",  # not a whole number, or the period's growth above the lifetime's
    "invalid_store",
    "unknown_store",  # no store has the code (Stores: create them before importing)
    "invalid_opened_on",
    "duplicate",  # the same card number or phone on an earlier line of the file
    "changed",  # imported before with different values: reported, never applied
    "card_taken",  # the card number belongs to another member
    "phone_taken",  # the phone belongs to another member
)
STORE_MAX_LENGTH = 32
MAX_AGE = 120
_NOISE = re.compile(r"[\s\-()]")
_PHONE = re.compile(r"^1[0-9]{10}$")
_FOREIGN = re.compile(r"^\+[1-9][0-9]{5,14}$")


@dataclass(frozen=True)
class ImportRow:
    """One row that passed every check: what the member will be."""

    line: int
    card_no: str | None
    phone: str
    name: str | None
    birthday: date | None
    tier: Tier
    points: int
    points_expire_on: date | None
    growth_total: int
    period_growth: int
    store: str | None
    opened_on: date | None
    fingerprint: str


@dataclass(frozen=True)
class RowProblem:
    """A row that is not applied: its line, the card number it names if any, why."""

    line: int
    card_no: str
    problem: str
    detail: str = ""


def columns_of(cells: Sequence[str]) -> dict[str, int]:
    """The position of each known column in a header row; 400 when `phone` is missing."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _BY_HEADING.get(cell.strip().lower())
        if column is not None and column not in found:
            found[column] = index
    if "phone" not in found:
        raise ValidationFailed(
            "The first row must name the columns, with at least `phone` (手机号).",
            code="import_columns_missing",
        )
    return found


class _Refused(Exception):
    def __init__(self, problem: str, detail: str = "") -> None:
        self.problem, self.detail = problem, detail


def judge(
    line: int,
    cells: Sequence[str],
    columns: Mapping[str, int],
    ladder: Sequence[Tier],
    today: date,
) -> ImportRow | RowProblem:
    """Check one data row against the columns, the tier ladder and today's date."""

    def cell(column: str) -> str:
        index = columns.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    raw_card = _NOISE.sub("", cell("card_no"))
    try:
        card_no = _card_no(raw_card)
        phone = _phone(cell("phone"))
        name = _name(cell("name"))
        birthday = _date(cell("birthday"), "invalid_birthday")
        if birthday is not None and (birthday > today or age_on(birthday, today) > MAX_AGE):
            raise _Refused("invalid_birthday", "birthday")
        tier = _tier(cell("tier"), ladder)
        points = _amount(cell("points"), "invalid_points")
        expire_on = _date(cell("points_expire_on"), "invalid_points_expiry")
        if expire_on is not None and expire_on < today:
            raise _Refused("invalid_points_expiry", "points_expire_on")
        lifetime = _amount(cell("growth_total"), "invalid_growth")
        period = _amount(cell("period_growth"), "invalid_growth")
        if not cell("growth_total"):
            lifetime = period
        if period > lifetime:
            raise _Refused("invalid_growth", "period_growth")
        store = cell("store") or None
        if store is not None and (len(store) > STORE_MAX_LENGTH or not store.isprintable()):
            raise _Refused("invalid_store", "store")
        opened_on = _date(cell("opened_on"), "invalid_opened_on")
        if opened_on is not None and opened_on > today:
            raise _Refused("invalid_opened_on", "opened_on")
    except _Refused as refused:
        return RowProblem(line, raw_card[:32], refused.problem, refused.detail)
    values = (card_no, phone, name, birthday, tier.name, points, expire_on, lifetime, period)
    text = "\x1f".join("" if value is None else str(value) for value in (*values, store, opened_on))
    return ImportRow(
        line=line,
        card_no=card_no,
        phone=phone,
        name=name,
        birthday=birthday,
        tier=tier,
        points=points,
        points_expire_on=expire_on,
        growth_total=lifetime,
        period_growth=period,
        store=store,
        opened_on=opened_on,
        fingerprint=hashlib.sha256(text.encode()).hexdigest(),
    )


def _card_no(value: str) -> str | None:
    if not value:
        return None  # a number is drawn for the member
    if not (value.isascii() and value.isdigit()) or len(value) != CARD_NO_LENGTH:
        raise _Refused("invalid_card_no", "card_no")
    if value[0] == "0" or not luhn_valid(value):
        raise _Refused("invalid_card_no", "check_digit")
    return value


def _phone(value: str) -> str:
    """Mainland numbers as their 11 digits (a +86 prefix dropped), others as `+<digits>`."""
    number = _NOISE.sub("", value)
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    if number.startswith("00"):
        number = "+" + number[2:]
    if _PHONE.fullmatch(number) or _FOREIGN.fullmatch(number):
        return number
    raise _Refused("invalid_phone", "phone")


def _name(value: str) -> str | None:
    if not value:
        return None
    try:
        name = clean_text(value)
    except ValueError:
        raise _Refused("invalid_name", "name") from None
    if len(name) > NAME_MAX_LENGTH:
        raise _Refused("invalid_name", "name")
    return name


def _date(value: str, problem: str) -> date | None:
    """YYYY-MM-DD or YYYY/MM/DD (a time after it is ignored), or nothing."""
    if not value:
        return None
    text = value.split()[0].replace("/", "-")
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise _Refused(problem, problem.removeprefix("invalid_")) from None


def _tier(value: str, ladder: Sequence[Tier]) -> Tier:
    """The tier named (or its level number); the entry tier when blank."""
    if not value:
        return ladder[0]
    for tier in ladder:
        if tier.name == value or (value.isdigit() and int(value) == tier.level):
            return tier
    raise _Refused("unknown_tier", value[:64])


def _amount(value: str, problem: str) -> int:
    """A whole number from 0 to the ledger's maximum (`1,200` and `1200.0` read as 1200)."""
    if not value:
        return 0
    text = value.replace(",", "")
    if text.endswith(".0"):
        text = text[:-2]
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_AMOUNT:
        raise _Refused(problem, problem.removeprefix("invalid_"))
    return int(text)
