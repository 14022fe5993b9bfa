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

XML is read from expat's events in one pass (`_XmlReader`), as ElementTree would read it, with
the parse stopped at a DTD or an entity declaration, so an entity expansion bomb ("billion
laughs") or an external entity never reaches the expansion; the nesting depth is counted while
parsing, so a deep document is refused at its first element too many. The tests hold it to
ElementTree's reading under defusedxml. wechatpy's message classes only ever get the checked
data (`bot.messages.message_of`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from xml.parsers import expat
from xml.sax.saxutils import escape

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


def malformed_xml(message: str) -> DomainError:
    return refuse(ValidationFailed(message, code="malformed_xml"))


def malformed_push(message: str) -> DomainError:
    return refuse(ValidationFailed(message, code="malformed_push"))


def xml_push(data: bytes | str) -> Push:
    """A push in XML as plain data; 400 `malformed_xml` unless it keeps the rules above.

    The root must be `<xml>` and name each field once; repeated elements inside a field (the
    `<List>` items of a subscribe-message event) become a list.
    """
    reader = _XmlReader()
    try:
        push = reader.read(data)
    except _TooDeep:
        raise malformed_xml(f"The push nests deeper than {MAX_DEPTH} levels.") from None
    except _Refused as exc:
        raise malformed_xml(f"The body is not acceptable XML ({exc}).") from None
    except (expat.ExpatError, ValueError, LookupError) as exc:
        raise malformed_xml(f"The body is not acceptable XML ({type(exc).__name__}).") from None
    if reader.root != "xml":
        raise malformed_xml("The root element must be <xml>.")
    if reader.problem is not None:
        raise malformed_xml(reader.problem)
    return _text_fields_checked(push, malformed_xml)


class _Refused(Exception):
    """A DTD or an entity declaration: refused before expat acts on it."""


class _XmlReader:
    """Builds the plain data straight from expat's callbacks, in one pass.

    Names are expanded as ElementTree's parser expands them (a namespaced one holds `}` and is
    refused by `_NAME`); an element's text is what ElementTree gives an element without
    children, stripped; the first broken rule in document order is kept in `problem`, reported
    once the document is known to be well formed and rooted at `<xml>`.
    """

    def __init__(self) -> None:
        self.root = ""
        self.problem: str | None = None
        # per open element: its name, its fields (None until a child closes) and its text
        self._names: list[str] = []
        self._fields: list[dict[str, Data] | None] = []
        self._texts: list[list[str]] = []
        self._push: Push = {}

    def read(self, data: bytes | str) -> Push:
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.Parse(data, True)
        return self._push

    def _doctype(self, *_: object) -> None:
        raise _Refused("a DTD")

    def _entity(self, *_: object) -> None:
        raise _Refused("an entity declaration")

    def _start(self, name: str, _attributes: dict[str, str]) -> None:
        depth = len(self._names)
        if depth >= MAX_DEPTH:
            raise _TooDeep()
        if depth == 0:
            self.root = name
        elif self.problem is None:
            if not _NAME.fullmatch(name):
                self.problem = f"The element name {name[:40]!r} is not acceptable."
            elif depth == 1 and name in self._push:
                self.problem = f"The push gives <{name}> more than once."
        self._names.append(name)
        self._fields.append(None)
        self._texts.append([])

    def _text(self, text: str) -> None:
        if len(self._names) > 1 and self._fields[-1] is None:
            self._texts[-1].append(text)

    def _end(self, _name: str) -> None:
        name = self._names.pop()
        fields = self._fields.pop()
        text = self._texts.pop()
        depth = len(self._names)
        if depth == 0:
            return
        value: Data = "".join(text).strip() if fields is None else fields
        if depth == 1:
            self._push.setdefault(name, value)
            return
        parent = self._fields[-1]
        if parent is None:
            parent = self._fields[-1] = {}
        if name not in parent:
            parent[name] = value
        elif isinstance(previous := parent[name], list):
            previous.append(value)
        else:
            parent[name] = [previous, value]


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
