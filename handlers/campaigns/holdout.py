"""The holdout draw: which members of a campaign are recorded but never contacted.

A member is held out when a SHA-256 of the campaign's random salt and the member id falls in the
lowest `percent` of its range: the same answer every time for that campaign and member (a
resumed or repeated recording draws nobody differently), independent between campaigns, and
not guessable from the ids without the salt.
"""

from __future__ import annotations

import hashlib
import secrets

_SCALE = 10_000  # draws in hundredths of a percent


def new_salt() -> str:
    return secrets.token_hex(16)


def held_out(salt: str, member_id: int, percent: int) -> bool:
    """Whether the member is in the campaign's holdout of `percent` % (0..100)."""
    digest = hashlib.sha256(f"{salt}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _SCALE < percent * (_SCALE // 100)
