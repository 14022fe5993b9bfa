"""Card numbers: 16 digits, random, the last one a Luhn check digit.

Numbers are drawn at random (never sequential, so one card number says nothing about how many
members there are or what the next one is); uniqueness is the database's job (a unique column,
a fresh draw on collision). The Luhn digit catches a mistyped digit or a swap of two neighbours
at the till before any database look-up.

The QR code on the card face carries the card number inside a template (`brand.card_qr`,
e.g. `WXMCARD:{card_no}` or a link that opens the mini-program), never the bare number or a
dynamic code, so the till can tell a scanned card face from a member code and refuse it unless
`pos.allow_card_number` is set: a card face is static, and a screenshot of it works forever.

This module imports nothing of the service, so every layer may use it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

CARD_NO_LENGTH = 16
CARD_NO_FIELD = "{card_no}"
_BODY_LENGTH = CARD_NO_LENGTH - 1
_CARD_NO = re.compile(r"^[1-9][0-9]{15}$")


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check."""
    total = 0
    # Walking from the right, every second digit of the full number is doubled; the check
    # digit will sit at the far right, so the body's rightmost digit is the first doubled.
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Whether a string of digits passes the Luhn check."""
    if not number.isascii() or not number.isdigit() or len(number) < 2:
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def new_card_number(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh random card number: first digit 1-9, 14 random digits, the Luhn digit."""
    first = 1 + randbelow(9)
    rest = randbelow(10 ** (_BODY_LENGTH - 1))
    body = f"{first}{rest:0{_BODY_LENGTH - 1}d}"
    return body + luhn_check_digit(body)


def is_card_number(text: str) -> bool:
    """16 digits, not starting with 0, with a valid Luhn digit."""
    return bool(_CARD_NO.fullmatch(text)) and luhn_valid(text)


def group_card_number(card_no: str) -> str:
    """`8123456789012345` -> `8123 4567 8901 2345`, as printed on the card."""
    return " ".join(card_no[i : i + 4] for i in range(0, len(card_no), 4))


def card_face_payload(template: str, card_no: str) -> str:
    """What the card face's QR code encodes: `template` with `{card_no}` filled in."""
    return template.replace(CARD_NO_FIELD, card_no, 1)


def card_no_in_face_payload(template: str, text: str) -> str | None:
    """The card number of a scanned card face QR code made from `template`, else None."""
    prefix, _, suffix = template.partition(CARD_NO_FIELD)
    text = text.strip()
    if len(text) != len(prefix) + CARD_NO_LENGTH + len(suffix):
        return None
    folded = text.lower()  # scanners in keyboard mode may change the case of letters
    if not (folded.startswith(prefix.lower()) and folded.endswith(suffix.lower())):
        return None
    card_no = text[len(prefix) : len(prefix) + CARD_NO_LENGTH]
    return card_no if card_no.isascii() and card_no.isdigit() else None
