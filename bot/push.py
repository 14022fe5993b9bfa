"""Receiving a WeChat push: signed query, time window, bounded body, safe XML, decryption.

Shared by the Official Account webhook and the mini-program push. Every refusal is logged and
raised as a domain error (rendered as `{"error": ...}` with a 4xx status by the app's error
middleware): 403 `bad_signature`, `stale_timestamp`, `wrong_appid`; 400 `malformed_xml`,
`decrypt_failed`, `encryption_required`; 404 `webhook_not_configured`; 413 for a body over
the limit.

XML is parsed with defusedxml first, refusing any DTD or entity declaration, so an entity
expansion bomb ("billion laughs") or an external entity never reaches a parser that would
expand it; only then does wechatpy (xmltodict) see the text.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
from aiohttp import web
from multidict import MultiMapping

from bot.crypto import DecryptFailed, PushCrypto, WrongAppId, signature, signature_matches
from wxmember.core.errors import DomainError, Forbidden, NotFound, ValidationFailed

log = logging.getLogger(__name__)

SUCCESS = "success"


@dataclass(frozen=True)
class PushQuery:
    timestamp: str
    nonce: str
    encrypted: bool
    msg_signature: str


def refuse(error: DomainError) -> DomainError:
    """Log a refused push; returns the error for the caller to raise."""
    log.warning("push refused: %s", error.code)
    return error


def verify_query(
    query: MultiMapping[str], token: str, window_seconds: int, now: float
) -> PushQuery:
    """Check `signature` (constant time) and that `timestamp` is within the window of now."""
    if not token:
        raise refuse(
            NotFound("This push endpoint is not configured.", code="webhook_not_configured")
        )
    given = query.get("signature", "")
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    if not (given and timestamp and nonce) or not signature_matches(
        signature(token, timestamp, nonce), given
    ):
        raise refuse(Forbidden("The signature does not match.", code="bad_signature"))
    numeric = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    if not numeric or abs(now - int(timestamp)) > window_seconds:
        raise refuse(Forbidden("The timestamp is too far from now.", code="stale_timestamp"))
    return PushQuery(
        timestamp=timestamp,
        nonce=nonce,
        encrypted=query.get("encrypt_type", "").lower() == "aes",
        msg_signature=query.get("msg_signature", ""),
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refusing with 413 once it grows past `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise refuse_too_large(limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise refuse_too_large(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def refuse_too_large(limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    log.warning("push refused: body over %d bytes", limit)
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)


def parse_xml(data: bytes | str) -> ET.Element:
    """The root `<xml>` element; DTDs, entities and malformed XML are refused."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise refuse(
            ValidationFailed(
                f"The body is not acceptable XML ({type(exc).__name__}).", code="malformed_xml"
            )
        ) from None
    if root.tag != "xml":
        raise refuse(ValidationFailed("The root element must be <xml>.", code="malformed_xml"))
    return root


def fields(root: ET.Element) -> dict[str, str]:
    """The top-level text fields of a push (`MsgType`, `FromUserName`, ...)."""
    return {child.tag: (child.text or "").strip() for child in root}


def element_data(element: ET.Element) -> Any:
    """An element as plain data: text, or a dict whose repeated tags become lists."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    data: dict[str, Any] = {}
    for child in children:
        value = element_data(child)
        if child.tag in data:
            previous = data[child.tag]
            data[child.tag] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
        else:
            data[child.tag] = value
    return data


def decrypt(crypto: PushCrypto | None, encrypt: str, query: PushQuery) -> str:
    """The plaintext of an encrypted push, after checking `msg_signature`."""
    if crypto is None:
        raise refuse(
            NotFound("Encrypted pushes are not configured.", code="webhook_not_configured")
        )
    if not encrypt:
        raise refuse(ValidationFailed("The push has no Encrypt element.", code="malformed_xml"))
    if not query.msg_signature or not crypto.check_msg_signature(
        query.msg_signature, query.timestamp, query.nonce, encrypt
    ):
        raise refuse(Forbidden("The message signature does not match.", code="bad_signature"))
    try:
        return crypto.decrypt(encrypt, query.timestamp, query.nonce)
    except WrongAppId:
        raise refuse(
            Forbidden("The push was sealed for another AppId.", code="wrong_appid")
        ) from None
    except DecryptFailed:
        raise refuse(
            ValidationFailed("The push does not decrypt.", code="decrypt_failed")
        ) from None
