"""Push signatures and the AES message crypto (WXBizMsgCrypt), through wechatpy.

`signature` is SHA-1 over the sorted [token, timestamp, nonce] (and the `Encrypt` text for
`msg_signature`); we compare in constant time, which wechatpy does not. Decryption and
encryption are wechatpy's `WeChatCrypto`; its failures (bad base64, bad padding, a wrong key,
the wrong AppId in the plaintext's tail) become the two errors below.
"""

from __future__ import annotations

import hmac

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner


class DecryptFailed(Exception):
    """The ciphertext does not decrypt to a message under our key."""


class WrongAppId(Exception):
    """The message decrypted, but it was sealed for another AppId."""


def signature(token: str, *parts: str) -> str:
    """SHA-1 hex of the sorted, concatenated parts (the push `signature`/`msg_signature`)."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return str(signer.signature)


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


class PushCrypto:
    """Decrypts pushes and encrypts replies for one token, EncodingAESKey and AppId."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        self.token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, appid)

    def check_msg_signature(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str
    ) -> bool:
        return signature_matches(signature(self.token, timestamp, nonce, encrypt), msg_signature)

    def decrypt(self, encrypt: str, timestamp: str, nonce: str) -> str:
        """The plaintext of an `Encrypt` value whose msg_signature was checked already."""
        expected = signature(self.token, timestamp, nonce, encrypt)
        try:
            return str(
                self._crypto.decrypt_message({"Encrypt": encrypt}, expected, timestamp, nonce)
            )
        except InvalidAppIdException:
            raise WrongAppId() from None
        except Exception as exc:  # base64, padding, length or UTF-8 errors of a bad ciphertext
            raise DecryptFailed(type(exc).__name__) from None

    def encrypt(self, plaintext: str, nonce: str, timestamp: str) -> str:
        """The four-element encrypted reply XML (Encrypt, MsgSignature, TimeStamp, Nonce)."""
        return str(self._crypto.encrypt_message(plaintext, nonce, timestamp))
