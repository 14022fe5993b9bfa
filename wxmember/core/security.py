"""Secrets at work: password hashing, signed tokens, encryption of personal data, masking.

- Passwords: argon2id (memory-hard).
- Tokens: `payload.signature`, HMAC-SHA256 over a compact JSON payload with a purpose, a subject,
  a version (bumped to revoke every token of a subject) and an expiry. Opaque to clients.
- Personal data: AES-256-GCM with the key id stored beside the ciphertext, so old keys keep
  decrypting after a rotation; a keyed hash (HMAC) beside it for look-up and uniqueness.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wxmember.core.config import SecurityConfig, data_key_bytes
from wxmember.core.errors import Unauthorized

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """A hash to verify against when the account does not exist, so timing does not reveal it."""
    return _hasher.hash("not-a-real-password")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    purpose: str
    subject: int
    version: int
    expires_at: int


# Tokens are base64url text and a dot; anything else (non-ASCII, spaces, a megabyte of it) is
# refused before any decoding, so no input can make verification fail in another way.
MAX_TOKEN_LENGTH = 512
_TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9_.-]+$", re.ASCII)


class TokenSigner:
    """Signs and verifies expiring tokens for one secret key."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"wxmember-token:" + secret_key.encode()).digest()

    def sign(self, purpose: str, subject: int, version: int, ttl_seconds: int) -> str:
        payload = {"p": purpose, "s": subject, "v": version, "e": int(time.time()) + ttl_seconds}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: str) -> TokenClaims:
        """Claims of a valid, unexpired token for this purpose; Unauthorized otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_CHARACTERS.fullmatch(token):
            raise Unauthorized("The token is not valid.", code="invalid_token")
        body, _, mac = token.partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(body)):
            raise Unauthorized("The token is not valid.", code="invalid_token")
        try:
            payload: dict[str, Any] = json.loads(_unb64(body))
            claims = TokenClaims(payload["p"], int(payload["s"]), int(payload["v"]), payload["e"])
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("The token is not valid.", code="invalid_token") from None
        if claims.purpose != purpose:
            raise Unauthorized("The token is not valid here.", code="invalid_token")
        if claims.expires_at < time.time():
            raise Unauthorized("The token has expired; log in again.", code="token_expired")
        return claims

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:24])


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"wxmember-key-id:" + key).hexdigest()[:8]


class DataCipher:
    """AES-GCM for personal fields: `v1.<key id>.<nonce+ciphertext>`; HMAC for look-ups."""

    def __init__(self, security: SecurityConfig) -> None:
        current = data_key_bytes(security.data_key)
        if len(current) != 32:
            raise ValueError("security.data_key must be 32 bytes")
        self._current_id = _key_id(current)
        self._keys = {self._current_id: AESGCM(current)}
        for old in security.old_data_keys:
            raw = data_key_bytes(old)
            self._keys.setdefault(_key_id(raw), AESGCM(raw))
        hash_secret = security.hash_key.get_secret_value().encode() or current
        self._hash_key = hashlib.sha256(b"wxmember-lookup:" + hash_secret).digest()

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), None)
        return f"v1.{self._current_id}.{_b64(nonce + sealed)}"

    def decrypt(self, token: str) -> str:
        try:
            version, key_id, data = token.split(".", 2)
            aead = self._keys[key_id]
            raw = _unb64(data)
            if version != "v1":
                raise ValueError(version)
            return aead.decrypt(raw[:12], raw[12:], None).decode()
        except (ValueError, KeyError, InvalidTag) as exc:
            raise ValueError("cannot decrypt: unknown key or damaged data") from exc

    def lookup_hash(self, value: str) -> str:
        """A keyed hash: equal inputs give equal hashes, unusable without the key."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


_PHONE_DIGITS = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phone(phone: str | None) -> str | None:
    """`13812345678` -> `138****5678`; other lengths keep their first 3 and last 4 digits."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_phones_in_text(text: str) -> str:
    """Mask every mainland mobile number found in free text (used on log lines)."""
    return _PHONE_DIGITS.sub(r"\1****\3", text)
