"""State of the fake WeChat API server, and the methods tests use to arrange and inspect it.

:class:`FakeWeChat` holds everything the fake server knows: registered apps, access tokens,
one-time login and phone codes, subscribe grants, followers, customer-service windows, uploaded
media, card images and member cards, API tickets, the card wallet, every message "sent",
per-path call counts and injected faults. It has its own clock (real time plus an offset moved
by :meth:`FakeWeChat.advance`) so tests can expire tokens and codes without sleeping. The
endpoint behaviour lives in :mod:`wxmember.core.fake_wechat.api` (cards:
:mod:`wxmember.core.fake_wechat.cards`; the wallet and API tickets:
:mod:`wxmember.core.fake_wechat.wallet`); the HTTP glue in :mod:`wxmember.core.fake_wechat.app`.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxmember.core.fake_wechat.cards import FakeCard
    from wxmember.core.fake_wechat.wallet import Ticket, WalletEntry

CODE_TTL = 300.0
MEDIA_TTL = 3 * 86400.0
DEDUP_TTL = 600.0

# kind -> (messages allowed, window seconds), per the customer-service message rules
WINDOW_RULES: dict[str, tuple[int, float]] = {
    "message": (5, 48 * 3600.0),
    "click": (3, 60.0),
    "subscribe": (3, 60.0),
    "scan": (3, 60.0),
}


class FakeAPIError(Exception):
    """An errcode answer of the fake server (rendered as HTTP 200 JSON with a rid)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class Token:
    value: str
    appid: str
    kind: str  # "token" (cgi-bin/token) or "stable" (cgi-bin/stable_token)
    expires_at: float
    revoked: bool = False


@dataclass
class OneTimeCode:
    issued_at: float
    fields: dict[str, Any]
    used: bool = False


@dataclass
class Window:
    kind: str
    expires_at: float
    remaining: int


@dataclass
class Media:
    media_id: str
    type: str
    filename: str
    content_type: str
    content: bytes
    created_at: float


@dataclass
class Fault:
    errcode: int | None
    status: int | None
    delay: float | None
    errmsg: str | None


@dataclass
class SentMessage:
    """One message the fake accepted: ``kind`` is subscribe, template or custom."""

    kind: str
    touser: str
    template_id: str | None
    data: dict[str, Any]
    at: float
    msgid: int
    extra: dict[str, Any] = field(default_factory=dict)


class FakeWeChat:
    """All state of the fake WeChat server; tests call its methods directly."""

    def __init__(
        self,
        *,
        token_lifetime: int = 7200,
        token_grace: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_lifetime = token_lifetime
        self.token_grace = token_grace
        self._clock = clock
        self._offset = 0.0
        self.apps: dict[str, str] = {}
        self.tokens: dict[str, Token] = {}
        self.stable_current: dict[str, str] = {}
        self.forced_refreshes: dict[str, list[float]] = {}
        self.login_codes: dict[str, OneTimeCode] = {}
        self.phone_codes: dict[str, OneTimeCode] = {}
        self.subscribe_templates: dict[str, list[str]] = {}
        self.template_enums: dict[str, dict[str, list[str]]] = {}
        self.oa_templates: dict[str, list[str] | None] = {}
        self.grants: Counter[tuple[str, str]] = Counter()
        self.followers: dict[str, str | None] = {}
        self.windows: dict[str, list[Window]] = {}
        self.media: dict[str, Media] = {}
        self.card_images: dict[str, bytes] = {}
        self.cards: dict[str, FakeCard] = {}
        self.wallet: dict[tuple[str, str], WalletEntry] = {}
        self.tickets: list[Ticket] = []
        self.dedup: dict[tuple[str, str], tuple[int, float]] = {}
        self.sent: list[SentMessage] = []
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, deque[Fault]] = {}
        self._msgids = itertools.count(2_000_000_001)

    def __repr__(self) -> str:
        return f"FakeWeChat(apps={sorted(self.apps)!r}, sent={len(self.sent)})"

    # ----------------------------------------------------------------- clock

    def now(self) -> float:
        """Current fake time (unix seconds)."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward."""
        self._offset += seconds

    # ----------------------------------------------------------------- apps and tokens

    def register_app(self, appid: str, secret: str) -> None:
        """Make ``appid`` known with ``secret`` (token endpoints and jscode2session)."""
        self.apps[appid] = secret

    def check_app(self, appid: str | None, secret: str | None) -> str:
        """Validate credentials: 40013 for an unknown appid, 40125 for a wrong secret."""
        if not isinstance(appid, str) or appid not in self.apps:
            raise FakeAPIError(40013, f"invalid appid hint: [{appid}]")
        if secret != self.apps[appid]:
            raise FakeAPIError(40125, "invalid appsecret")
        return appid

    @property
    def token_requests(self) -> int:
        """How many requests reached either token endpoint."""
        return self.calls["/cgi-bin/token"] + self.calls["/cgi-bin/stable_token"]

    def issue_token(self, appid: str, kind: str) -> Token:
        """Create a new access token of ``kind`` for ``appid``."""
        value = f"{kind[0].upper()}{secrets.token_urlsafe(48)}"
        token = Token(value, appid, kind, self.now() + self.token_lifetime)
        self.tokens[value] = token
        return token

    def check_token(self, value: str | None) -> str:
        """The appid a valid token belongs to; 41001 missing, 40001 unknown, 42001 expired."""
        if not value:
            raise FakeAPIError(41001, "access_token missing")
        token = self.tokens.get(value)
        if token is None or token.revoked:
            raise FakeAPIError(40001, "invalid credential, access_token is invalid or not latest")
        if token.expires_at <= self.now():
            raise FakeAPIError(42001, "access_token expired")
        return token.appid

    def expire_tokens(self) -> None:
        """Expire every token at once (the next call with one gets 42001)."""
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, self.now())

    def revoke_token(self, value: str) -> None:
        """Invalidate one token (the next call with it gets 40001)."""
        token = self.tokens[value]
        token.revoked = True
        if self.stable_current.get(token.appid) == value:
            del self.stable_current[token.appid]

    # ----------------------------------------------------------------- one-time codes

    def issue_login_code(
        self, openid: str, unionid: str | None = None, session_key: str | None = None
    ) -> str:
        """A ``wx.login`` code for ``openid``: single use, valid for 5 minutes."""
        code = "L" + secrets.token_hex(12)
        if session_key is None:
            session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        fields = {"openid": openid, "unionid": unionid, "session_key": session_key}
        self.login_codes[code] = OneTimeCode(self.now(), fields)
        return code

    def issue_phone_code(
        self, phone: str, country_code: str = "86", openid: str | None = None
    ) -> str:
        """A getPhoneNumber code: single use, valid for 5 minutes, optionally bound to openid."""
        code = "P" + secrets.token_hex(12)
        fields = {"phone": phone, "country_code": country_code, "openid": openid}
        self.phone_codes[code] = OneTimeCode(self.now(), fields)
        return code

    def take_code(
        self, codes: dict[str, OneTimeCode], code: Any, *, used_errcode: int
    ) -> dict[str, Any]:
        """Consume a one-time code: 40029 unknown or expired, ``used_errcode`` when spent."""
        entry = codes.get(code) if isinstance(code, str) else None
        if entry is None or entry.issued_at + CODE_TTL <= self.now():
            raise FakeAPIError(40029, "invalid code")
        if entry.used:
            raise FakeAPIError(
                used_errcode, "code been used" if used_errcode == 40163 else "invalid code"
            )
        entry.used = True
        return entry.fields

    # ----------------------------------------------------------------- templates, users

    def register_subscribe_template(
        self, template_id: str, keys: Sequence[str], enums: dict[str, list[str]] | None = None
    ) -> None:
        """A mini-program subscribe template with its data keys (``thing1``, ``date2`` ...)."""
        self.subscribe_templates[template_id] = list(keys)
        self.template_enums[template_id] = dict(enums or {})

    def register_template(self, template_id: str, keys: Sequence[str] | None = None) -> None:
        """An Official Account template; ``keys`` None accepts any data keys."""
        self.oa_templates[template_id] = list(keys) if keys is not None else None

    def grant_subscription(self, openid: str, template_id: str, count: int = 1) -> None:
        """The user accepted ``count`` one-time subscriptions to ``template_id``."""
        self.grants[(openid, template_id)] += count

    def add_follower(self, openid: str, unionid: str | None = None) -> None:
        """``openid`` follows the Official Account."""
        self.followers[openid] = unionid

    def unfollow(self, openid: str) -> None:
        """``openid`` unfollows; their customer-service windows close."""
        self.followers.pop(openid, None)
        self.windows.pop(openid, None)

    def record_interaction(self, openid: str, kind: str = "message") -> None:
        """An interaction opening a customer-service window (message, click, subscribe, scan)."""
        allowed, seconds = WINDOW_RULES[kind]
        self.windows.setdefault(openid, []).append(Window(kind, self.now() + seconds, allowed))

    def open_window(self, openid: str) -> None:
        """Shorthand for a user message: 5 customer-service messages within 48 hours."""
        self.record_interaction(openid, "message")

    def use_window(self, openid: str) -> None:
        """Spend one customer-service message: 45015 no open window, 45047 count used up."""
        now = self.now()
        live = [w for w in self.windows.get(openid, []) if w.expires_at > now]
        if not live:
            raise FakeAPIError(45015, "response out of time limit or subscription is canceled")
        usable = [w for w in live if w.remaining > 0]
        if not usable:
            raise FakeAPIError(45047, "out of response count limit")
        min(usable, key=lambda w: w.expires_at).remaining -= 1

    # ----------------------------------------------------------------- media, messages

    def store_media(
        self, media_type: str, filename: str, content_type: str, content: bytes
    ) -> Media:
        """Keep an uploaded file and give it a media id."""
        media_id = secrets.token_urlsafe(48)
        media = Media(media_id, media_type, filename, content_type, content, self.now())
        self.media[media_id] = media
        return media

    def live_media(self, media_id: Any) -> Media | None:
        """The media with this id if it exists and is younger than 3 days."""
        media = self.media.get(media_id) if isinstance(media_id, str) else None
        if media is None or media.created_at + MEDIA_TTL <= self.now():
            return None
        return media

    def record_sent(
        self,
        kind: str,
        touser: str,
        template_id: str | None,
        data: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> SentMessage:
        """Append a delivered message to :attr:`sent`."""
        message = SentMessage(kind, touser, template_id, data, self.now(), next(self._msgids))
        message.extra.update(extra or {})
        self.sent.append(message)
        return message

    # ----------------------------------------------------------------- member cards

    def review_card(self, card_id: str, *, approved: bool, reason: str = "") -> dict[str, str]:
        """WeChat's review of a card: its status changes, and the fields of the event pushed.

        The event (`card_pass_check` or `card_not_pass_check` with `RefuseReason`) comes from
        the platform: tests sign it, encrypt it in safe mode and post it to the webhook.
        """
        from wxmember.core.fake_wechat.cards import VERIFY_FAIL, VERIFY_OK

        card = self.cards[card_id]
        card.status = VERIFY_OK if approved else VERIFY_FAIL
        card.refuse_reason = None if approved else reason
        fields = {"Event": "card_pass_check" if approved else "card_not_pass_check"}
        fields["CardId"] = card_id
        if not approved:
            fields["RefuseReason"] = reason
        return fields

    def card_ticket(self, appid: str) -> str:
        """The latest `wx_card` API ticket issued to `appid` (KeyError when none was)."""
        for ticket in reversed(self.tickets):
            if ticket.appid == appid and ticket.kind == "wx_card":
                return ticket.value
        raise KeyError(appid)

    def add_card(self, openid: str, card_id: str, card_ext: str) -> dict[str, str]:
        """`wx.addCard` by `openid` with a `cardExt` string: the `user_get_card` event's fields.

        Refused as WeChat refuses it (`FakeAPIError`): 40073 unknown card, 40078 a card not
        approved, 40080 a `cardExt` not signed with a live `wx_card` ticket of the card's
        appid, 40116 a code in another wallet entry; see :mod:`.wallet`.
        """
        from wxmember.core.fake_wechat.wallet import add_card

        return add_card(self, openid, card_id, card_ext)

    def delete_card(self, openid: str, card_id: str, code: str) -> dict[str, str]:
        """The user deletes the card from the wallet: the `user_del_card` event's fields."""
        from wxmember.core.fake_wechat.wallet import delete_card

        return delete_card(self, openid, card_id, code)

    def wallet_of(self, openid: str) -> list[WalletEntry]:
        """The member cards in one user's wallet, deleted ones included (marked so)."""
        return [entry for entry in self.wallet.values() if entry.openid == openid]

    # ----------------------------------------------------------------- faults

    def inject(
        self,
        endpoint_path: str,
        errcode: int | None = None,
        status: int | None = None,
        delay: float | None = None,
        times: int = 1,
        errmsg: str | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``endpoint_path`` fail or stall.

        ``delay`` seconds pass first; then an HTTP ``status`` (e.g. 502) is answered, or an
        ``errcode`` as WeChat does it (HTTP 200 JSON), or, with neither, the call proceeds.
        """
        queue = self.faults.setdefault(endpoint_path, deque())
        queue.extend(Fault(errcode, status, delay, errmsg) for _ in range(times))

    def next_fault(self, endpoint_path: str) -> Fault | None:
        """Pop the next injected fault for a path, if any."""
        queue = self.faults.get(endpoint_path)
        return queue.popleft() if queue else None

    def new_rid(self) -> str:
        """A request id in WeChat's style, appended to every errmsg."""
        return f"{int(self.now()):x}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
