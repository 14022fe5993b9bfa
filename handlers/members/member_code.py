"""The dynamic member code: what a cashier scans, valid for a minute or two.

TOTP-style (RFC 6238 shape, HMAC-SHA256): the member's own `code_secret` and the number of the
current 60-second step give an 8-digit code. The payload is `WXM` + the member id in base 36 +
the 8 digits, e.g. `WXM2S41738205`: short enough for a QR code that scans at a glance and for a
cashier to type. The id tells the POS whose secret to check; the digits prove the code is fresh,
so a screenshot stops working: a code is accepted in its own step and the next one, no later.

Imports only `wxmember`, so the POS look-up in `handlers.members.cards` can use it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import segno

from wxmember.core.context import Services
from wxmember.core.models import Member

PREFIX = "WXM"
STEP_SECONDS = 60
DIGITS = 8
TOLERANCE_STEPS = 1  # a code stays good for one step after its own (slow scanners, clock skew)
MAX_ID_CHARS = 7
MAX_MEMBER_ID = 2**31 - 1  # the id column is a 32-bit integer
_PAYLOAD = re.compile(rf"^{PREFIX}([0-9A-Z]{{1,{MAX_ID_CHARS}}})(\d{{{DIGITS}}})$")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def new_code_secret() -> str:
    """A fresh per-member secret (160 bits, hex), stored with the card."""
    return secrets.token_hex(20)


def to_base36(number: int) -> str:
    """`123456` -> `2N9C`."""
    if number < 0:
        raise ValueError("negative id")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if number == 0:
            return digits


def time_step(at: datetime) -> int:
    """The number of the 60-second step `at` falls in."""
    return int(at.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    """The 8 digits for one step: HMAC-SHA256, dynamic truncation as in RFC 4226."""
    mac = hmac.new(secret.encode(), struct.pack(">Q", step), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def payload_for(member_id: int, digits: str) -> str:
    """The scannable code: prefix, member id in base 36, the digits."""
    return f"{PREFIX}{to_base36(member_id)}{digits}"


def parse_payload(text: str) -> tuple[int, str] | None:
    """(member id, digits) of a well-formed code, else None. Case and white space (a scanner's
    final newline) do not matter."""
    match = _PAYLOAD.fullmatch("".join(text.split()).upper())
    if match is None:
        return None
    member_id = int(match.group(1), 36)
    if member_id > MAX_MEMBER_ID:
        return None
    return member_id, match.group(2)


@dataclass(frozen=True)
class MemberCode:
    """A code to show: the payload, the moment a new one is due and the moment it stops working."""

    payload: str
    refresh_at: datetime
    expires_at: datetime

    def qr_svg(self) -> str:
        """The payload as an inline SVG QR code (error correction M, dark on transparent)."""
        return segno.make(self.payload, error="m", micro=False).svg_inline(scale=4, border=2)


def issue_member_code(services: Services, member: Member) -> MemberCode:
    """The member's code for the current step; 409 `card_required` before the card."""
    secret = member.require_card().code_secret
    if secret is None:
        raise RuntimeError(f"member {member.id} holds a card without a code secret")
    step = time_step(services.clock.now())
    digits = code_for_step(secret, step)
    return MemberCode(
        payload=payload_for(member.id, digits),
        refresh_at=datetime.fromtimestamp((step + 1) * STEP_SECONDS, UTC),
        expires_at=datetime.fromtimestamp((step + 1 + TOLERANCE_STEPS) * STEP_SECONDS, UTC),
    )


async def resolve_member_code(services: Services, code: str) -> Member | None:
    """The member a dynamic code belongs to if it is valid now or one step back, else None."""
    parsed = parse_payload(code)
    if parsed is None:
        return None
    member_id, digits = parsed
    member = await Member.get_or_none(
        id=member_id, deleted_at=None, card_no__isnull=False
    ).prefetch_related("tier")
    if member is None or not member.code_secret:
        return None
    step = time_step(services.clock.now())
    matched = False
    for candidate in range(step - TOLERANCE_STEPS, step + 1):
        # compare every candidate, so the time taken does not tell which step matched
        matched |= hmac.compare_digest(code_for_step(member.code_secret, candidate), digits)
    return member if matched else None
