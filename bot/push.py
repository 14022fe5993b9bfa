"""Receiving a WeChat push: signed query, time window, bounded body, safe parsing, decryption.

Shared by the Official Account webhook and the mini-program push. Every refusal is logged (at
warning level) and raised as a domain error (rendered as `{"error": ...}` with a 4xx status by
the app's error middleware): 403 `bad_signature`, `stale_timestamp`, `wrong_appid`; 400
`malformed_xml`, `malformed_push`, `decrypt_failed`, `encryption_required`,
`encryption_not_enabled`; 404 `webhook_not_configured`; 413 for a body over the limit.

A push body becomes plain data in one of two places, `xml_push` and `json_push`, and nothing
else reads a body: text leaves, objects (`dict`) and lists only, at most `MAX_DEPTH` levels deep,
no field given twice, element names plain ASCII (no namespaces), and the fields read as text
(`TEXT_FIELDS`: `MsgType`, `Content`, ...) always text. Whatever breaks these rules is refused
there, so no later step meets a list where it expects a string, or recursion it cannot bound.

XML is parsed with defusedxml, refusing any DTD or entity declaration, so an entity expansion
bomb ("billion laughs") or an external entity never reaches a parser that would expand it; the
nesting depth is counted while parsing, so a deep document is refused at its first element too
many. wechatpy's message classes only ever get the checked data (`bot.messages.message_of`).
"""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from xml.sax.saxutils import escape

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


MAX_DEPTH = 8
"""Nesting levels a push may use. The document (`<xml>`, or the JSON object) is level 1; WeChat's
deepest push (a menu photo event: `<xml><SendPicsInfo><PicList><item><PicMd5Sum>`) uses 5."""

TEXT_FIELDS = frozenset(
    {
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "MsgId",
        "MsgID",
        "Event",
        "EventKey",
        "Content",
        "Recognition",
        "Encrypt",
        "UnionId",
    }
)
"""Top-level fields the service or wechatpy's dispatch reads as text."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

Data: TypeAlias = "str | list[Data] | dict[str, Data]"
Push: TypeAlias = dict[str, Data]


class _TooDeep(Exception):
    pass


class _Repeated(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _DepthLimitedBuilder(ET.TreeBuilder):
    """Builds the tree, giving up at the first element nested deeper than `MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep()
        return super().start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self.depth -= 1
        return super().end(tag)


def malformed_xml(message: str) -> DomainError:
    return refuse(ValidationFailed(message, code="malformed_xml"))


def malformed_push(message: str) -> DomainError:
    return refuse(ValidationFailed(message, code="malformed_push"))


def xml_push(data: bytes | str) -> Push:
    """A push in XML as plain data; 400 `malformed_xml` unless it keeps the rules above.

    The root must be `<xml>` and name each field once; repeated elements inside a field (the
    `<List>` items of a subscribe-message event) become a list.
    """
    parser = SafeET.XMLParser(target=_DepthLimitedBuilder(), forbid_dtd=True)
    try:
        parser.feed(data)
        root = parser.close()
    except _TooDeep:
        raise malformed_xml(f"The push nests deeper than {MAX_DEPTH} levels.") from None
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError, LookupError) as exc:
        raise malformed_xml(f"The body is not acceptable XML ({type(exc).__name__}).") from None
    if root.tag != "xml":
        raise malformed_xml("The root element must be <xml>.")
    push: Push = {}
    for child in root:
        name = _xml_name(child.tag)
        if name in push:
            raise malformed_xml(f"The push gives <{name}> more than once.")
        push[name] = _element_data(child)
    return _text_fields_checked(push, malformed_xml)


def _xml_name(tag: str) -> str:
    if not _NAME.fullmatch(tag):
        raise malformed_xml(f"The element name {tag[:40]!r} is not acceptable.")
    return tag


def _element_data(element: ET.Element) -> Data:
    """An element as plain data: its text, or a dict whose repeated names become lists."""
    if len(element) == 0:
        return (element.text or "").strip()
    data: dict[str, Data] = {}
    for child in element:
        name = _xml_name(child.tag)
        value = _element_data(child)
        if name not in data:
            data[name] = value
        elif isinstance(previous := data[name], list):
            previous.append(value)
        else:
            data[name] = [previous, value]
    return data


def json_push(data: bytes | str) -> Push:
    """A push in JSON as plain data; 400 `malformed_push` unless it keeps the rules above.

    Numbers, booleans and null become text (`CreateTime` arrives as a number or a string), so
    the data has the same shape as an XML push's.
    """
    try:
        raw = json.loads(data, object_pairs_hook=_unique_names)
    except _Repeated as exc:
        raise malformed_push(f"The push gives {exc.name[:40]!r} more than once.") from None
    except RecursionError:  # nested past the JSON parser's own limit
        raise malformed_push(f"The push nests deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        raise malformed_push("The body is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise malformed_push("The push must be a JSON object.")
    try:
        push = {name: _json_data(value, 2) for name, value in raw.items()}
    except _TooDeep:
        raise malformed_push(f"The push nests deeper than {MAX_DEPTH} levels.") from None
    return _text_fields_checked(push, malformed_push)


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise _Repeated(name)
        data[name] = value
    return data


def _json_data(value: Any, depth: int) -> Data:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        raise _TooDeep()
    if isinstance(value, dict):
        return {name: _json_data(item, depth + 1) for name, item in value.items()}
    if isinstance(value, list):
        return [_json_data(item, depth + 1) for item in value]
    if value is None:
        return ""
    return json.dumps(value)  # numbers and booleans as JSON writes them: 0, 1.5, true, NaN


def _text_fields_checked(push: Push, refusal: Callable[[str], DomainError]) -> Push:
    for name in TEXT_FIELDS & push.keys():
        if not isinstance(push[name], str):
            raise refusal(f"{name} must be text.")
    return push


def load_push(body: bytes | str) -> Push:
    """A push body in either format (the mini-program's push is XML or JSON, as configured)."""
    head = body.lstrip()[:1]
    if head in (b"<", "<"):
        return xml_push(body)
    if head in (b"{", "{"):
        return json_push(body)
    raise malformed_push("The body is neither XML nor JSON.")


def text(data: Mapping[str, Data], name: str) -> str:
    """The text of a field; "" when it is missing or not text."""
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


def render_xml(push: Push) -> str:
    """A push read by `xml_push` as a canonical document: no attributes, no empty elements.

    This is the only XML wechatpy's `parse_message` sees: every field it reads is text, none is
    repeated, and empty ones are left out (xmltodict would make them None).
    """
    parts = ["<xml>"]
    _render_fields(push, parts)
    parts.append("</xml>")
    return "".join(parts)


def _render_fields(data: Mapping[str, Data], parts: list[str]) -> None:
    for name, value in data.items():
        if not _NAME.fullmatch(name):
            continue
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, str) and one:
                parts.append(f"<{name}>{escape(one)}</{name}>")
            elif isinstance(one, dict) and one:
                parts.append(f"<{name}>")
                _render_fields(one, parts)
                parts.append(f"</{name}>")


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
