"""Push signatures and the AES message crypto (WXBizMsgCrypt, WECHAT.md A.4).

`signature` is SHA-1 over the sorted [token, timestamp, nonce] (and the `Encrypt` text for
`msg_signature`); we compare in constant time. The AES scheme is written here on
`cryptography` rather than through wechatpy's `WeChatCrypto`, which builds its cipher objects
and a random prefix from Python's `random` for every message, on the webhook's hot path; the
published vectors and wechatpy itself check it in the tests. A failure to decrypt (bad base64,
a length that is not whole blocks, bad padding, a wrong key, a length field past the end, text
that is not UTF-8) becomes `DecryptFailed`; a message sealed for another AppId `WrongAppId`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
"""WeChat pads to 32-byte multiples (PKCS#7 with a pad value of 1..32)."""


class DecryptFailed(Exception):
    """The ciphertext does not decrypt to a message under our key."""


class WrongAppId(Exception):
    """The message decrypted, but it was sealed for another AppId."""


def signature(token: str, *parts: str) -> str:
    """SHA-1 hex of the sorted, concatenated parts (the push `signature`/`msg_signature`)."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


@lru_cache(maxsize=8)
def push_crypto(token: str, encoding_aes_key: str, appid: str) -> PushCrypto:
    """The crypto of one account's settings, made once: its key is decoded here."""
    return PushCrypto(token, encoding_aes_key, appid)


class PushCrypto:
    """Decrypts pushes and encrypts replies for one token, EncodingAESKey and AppId."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        appid: str,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("an EncodingAESKey is 43 characters that decode to 32 bytes")
        self.token = token
        self._appid = appid.encode()
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self._random_bytes = random_bytes

    def check_msg_signature(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str
    ) -> bool:
        return signature_matches(signature(self.token, timestamp, nonce, encrypt), msg_signature)

    def decrypt(self, encrypt: str, timestamp: str, nonce: str) -> str:
        """The plaintext of an `Encrypt` value whose msg_signature was checked already."""
        try:
            sealed = base64.b64decode(encrypt)
        except (binascii.Error, ValueError):
            raise DecryptFailed("base64") from None
        if not sealed or len(sealed) % 16:
            raise DecryptFailed("length")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or len(plain) < 16 + 4 + pad:
            raise DecryptFailed("padding")
        content = plain[16:-pad]
        end = 4 + int.from_bytes(content[:4], "big")
        if end > len(content):
            raise DecryptFailed("length field")
        if content[end:] != self._appid:
            raise WrongAppId()
        try:
            return content[4:end].decode()
        except UnicodeDecodeError:
            raise DecryptFailed("utf-8") from None

    def encrypt(self, plaintext: str, nonce: str, timestamp: str) -> str:
        """The four-element encrypted reply XML (Encrypt, MsgSignature, TimeStamp, Nonce)."""
        message = plaintext.encode()
        data = b"".join(
            (self._random_bytes(16), len(message).to_bytes(4, "big"), message, self._appid)
        )
        pad = BLOCK - len(data) % BLOCK
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(data + bytes((pad,)) * pad) + encryptor.finalize()
        encrypt = base64.b64encode(sealed).decode()
        sign = signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{sign}]]></MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
        )
