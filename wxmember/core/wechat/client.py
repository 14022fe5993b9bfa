"""Async client for the WeChat server API (mini-program and Official Account).

One :class:`WeChatClient` per appid, sharing the application's ``aiohttp.ClientSession`` and
Redis. The access token comes from ``/cgi-bin/stable_token`` and is cached in Redis so that
every worker process uses the same one; refreshing is single-flight within and across
processes (:mod:`wxmember.core.wechat.token_cache`).

After a token error (40001, 40014, 42001) the cached token is dropped only if it is still the
one that failed, a new one is fetched and the call is repeated once; a second token error is
raised. The new token is asked for in normal mode first: when someone else rotated the token
(another system on the same appid, a ``force_refresh`` elsewhere, expiry), that already returns
the new one, and a ``force_refresh`` would needlessly invalidate a token others still use and
spend one of the 20 daily forced refreshes. Only when the server hands back the very token it
just rejected is ``force_refresh=true`` sent.

Retries: timeouts, connection errors, HTTP 5xx and non-JSON bodies are retried up to
``network_retries`` times with exponential back-off, and so is errcode -1 (system busy). Other
errcodes are never retried. Message sends (``send_*``) and ``create_card`` are not idempotent:
after a read timeout, a 5xx or a garbled answer WeChat may already have delivered the message or
created the card, so they are retried only when the connection could not be opened
(``aiohttp.ClientConnectorError``, the request never left) and on -1.

``on_call(endpoint, errcode)`` is invoked once per HTTP request with the API path and the
errcode received (0 for success, :data:`NETWORK_ERRCODE` = -2 when no usable answer came).
The app secret never appears in logs, reprs or exception messages.

The card API ticket (``wx_card``, signing the ``cardExt`` of ``wx.addCard``) is cached and
refreshed exactly as the token is, under its own key. WeChat cannot tell us that a ticket has
been replaced (a bad signature shows only on the member's phone), so it is renewed by age alone,
a little before its ``expires_in``; a token error while fetching it renews the token as any call
does.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from wxmember.core.redis import RedisClient
from wxmember.core.wechat.errors import (
    NETWORK_ERRCODE,
    TOKEN_REFRESH_ERRCODES,
    WeChatNetworkError,
    WeChatTokenError,
    error_for,
)
from wxmember.core.wechat.token_cache import AccessTokenCache, ticket_key

logger = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/stable_token"
TICKET_PATH = "/cgi-bin/ticket/getticket"
CARD_TICKET = "wx_card"


class _Secret:
    """Holds the app secret; its repr never shows the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "_Secret('**********')"


class _NoAnswer(Exception):
    """Internal: a request produced no usable WeChat answer.

    ``retry`` is "connect" (the request never left: any call may repeat it), "transient"
    (idempotent calls may repeat it) or "final" (nobody repeats it).
    """

    def __init__(self, reason: str, *, retry: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.status = status


def _errcode(payload: dict[str, Any]) -> int:
    """The errcode of a response; absent means success (token and jscode2session omit it)."""
    value = payload.get("errcode") or 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _cache_seconds(payload: dict[str, Any]) -> int:
    """How long to keep a token or ticket: 5 minutes short of its ``expires_in``."""
    try:
        expires_in = int(payload.get("expires_in") or 7200)
    except (TypeError, ValueError):
        expires_in = 7200
    return expires_in - 300 if expires_in > 360 else max(1, expires_in // 2)


def _message_body(
    touser: str, template_id: str, data: Mapping[str, str], **optional: Any
) -> dict[str, Any]:
    """A template-style message: plain ``data`` values wrapped as ``{"value": ...}``."""
    body: dict[str, Any] = {
        "touser": touser,
        "template_id": template_id,
        "data": {key: {"value": value} for key, value in data.items()},
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


class WeChatClient:
    """Calls the WeChat API for one appid; see the module docstring for retry rules."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        redis: RedisClient,
        appid: str,
        secret: str,
        api_base: str,
        timeout: float = 5.0,
        network_retries: int = 2,
        on_call: Callable[[str, int], None] | None = None,
        backoff: float = 0.2,
    ) -> None:
        self._session = session
        self.appid = appid
        self._secret = _Secret(secret)
        self.api_base = api_base.rstrip("/")
        self._timeout = timeout
        self._network_retries = max(0, network_retries)
        self._on_call = on_call
        self._backoff = backoff
        # Longest a lock holder may need: two token requests (normal, then forced), retried.
        retries = self._network_retries
        attempt_budget = (retries + 1) * timeout + backoff * (2**retries - 1)
        self._tokens = AccessTokenCache(
            redis=redis,
            appid=appid,
            fetch=self._fetch_token,
            lock_ttl=2 * attempt_budget + 5.0,
            endpoint=TOKEN_PATH,
        )
        # a ticket fetch may renew the token first: the same budget covers it
        self._card_tickets = AccessTokenCache(
            redis=redis,
            appid=appid,
            fetch=self._fetch_card_ticket,
            lock_ttl=3 * attempt_budget + 5.0,
            endpoint=TICKET_PATH,
            key=ticket_key(CARD_TICKET, appid),
            what="the card API ticket",
        )

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self.api_base!r})"

    # ----------------------------------------------------------------- access token

    async def access_token(self) -> str:
        """Return a valid access token, from the Redis cache or freshly fetched."""
        return await self._tokens.get()

    async def _fetch_token(self, rejected: str | None) -> tuple[str, int]:
        payload = await self._request_token(force_refresh=False)
        if rejected is not None and payload.get("access_token") == rejected:
            payload = await self._request_token(force_refresh=True)
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatNetworkError("token response without access_token", TOKEN_PATH)
        return token, _cache_seconds(payload)

    async def card_api_ticket(self) -> str:
        """The ``wx_card`` API ticket that signs a ``cardExt``, cached like the token."""
        return await self._card_tickets.get()

    async def _fetch_card_ticket(self, _rejected: str | None) -> tuple[str, int]:
        logger.info("fetching WeChat card API ticket appid=%s", self.appid)
        payload = await self._call("GET", TICKET_PATH, params={"type": CARD_TICKET})
        ticket = payload.get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise WeChatNetworkError("getticket answer without ticket", TICKET_PATH)
        return ticket, _cache_seconds(payload)

    async def _request_token(self, *, force_refresh: bool) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret.reveal(),
            "force_refresh": force_refresh,
        }
        logger.info("fetching WeChat access token appid=%s force=%s", self.appid, force_refresh)
        return await self._request("POST", TOKEN_PATH, json_body=body)

    # ----------------------------------------------------------------- transport

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        send: bool = False,
    ) -> dict[str, Any]:
        """Call a token-protected endpoint, renewing the token once on a token error."""
        token = await self.access_token()
        try:
            return await self._request(
                method, path, token=token, params=params, json_body=json_body, form=form, send=send
            )
        except WeChatTokenError as exc:
            if exc.errcode not in TOKEN_REFRESH_ERRCODES:
                raise
            logger.warning("WeChat rejected the access token (%s) on %s", exc.errcode, path)
            token = await self._tokens.renew(token)
        return await self._request(
            method, path, token=token, params=params, json_body=json_body, form=form, send=send
        )

    async def _send(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a message: not idempotent, so retried only where it cannot have arrived."""
        return await self._call("POST", path, json_body=body, send=True)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        send: bool = False,
    ) -> dict[str, Any]:
        """One logical request, retried per the module rules; the body without errcode/errmsg."""
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        attempt = 0
        while True:
            try:
                payload = await self._once(method, path, query, json_body, form)
            except _NoAnswer as exc:
                self._record(path, NETWORK_ERRCODE)
                may_retry = exc.retry == "connect" or (exc.retry == "transient" and not send)
                if may_retry and attempt < self._network_retries:
                    await self._sleep_backoff(attempt)
                    attempt += 1
                    continue
                raise WeChatNetworkError(
                    self._redact(exc.reason, token), path, exc.status
                ) from None
            errcode = _errcode(payload)
            self._record(path, errcode)
            if errcode == 0:
                return {k: v for k, v in payload.items() if k not in ("errcode", "errmsg")}
            error = error_for(errcode, str(payload.get("errmsg", "")), path)
            if errcode == -1 and attempt < self._network_retries:
                await self._sleep_backoff(attempt)
                attempt += 1
                continue
            raise error

    async def _once(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        json_body: Any,
        form: Callable[[], aiohttp.FormData] | None,
    ) -> dict[str, Any]:
        data: Any = None
        headers: dict[str, str] = {}
        if form is not None:
            data = form()
        elif json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            async with self._session.request(
                method,
                self.api_base + path,
                params=query,
                data=data,
                headers=headers,
                timeout=timeout,
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except aiohttp.ClientConnectorError as exc:
            raise _NoAnswer(f"cannot connect: {exc}", retry="connect") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise _NoAnswer(reason, retry="transient") from None
        if status >= 400:
            retry = "transient" if status >= 500 else "final"
            raise _NoAnswer(f"HTTP {status}", retry=retry, status=status)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise _NoAnswer("response body is not a JSON object", retry="transient", status=status)
        return payload

    async def _sleep_backoff(self, attempt: int) -> None:
        await asyncio.sleep(self._backoff * (2**attempt))

    def _record(self, path: str, errcode: int) -> None:
        if errcode:
            logger.info("WeChat call %s errcode=%s", path, errcode)
        if self._on_call is None:
            return
        try:
            self._on_call(path, errcode)
        except Exception:  # a metrics hook must not break the call
            logger.exception("on_call hook failed for %s", path)

    def _redact(self, text: str, token: str | None) -> str:
        text = text.replace(self._secret.reveal(), "***")
        return text.replace(token, "***") if token else text

    # ----------------------------------------------------------------- mini-program

    async def code2session(self, js_code: str) -> dict[str, Any]:
        """Exchange a ``wx.login`` code: returns openid, session_key and unionid if bound."""
        params = {
            "appid": self.appid,
            "secret": self._secret.reveal(),
            "js_code": js_code,
            "grant_type": "authorization_code",
        }
        return await self._request("GET", "/sns/jscode2session", params=params)

    async def get_phone_number(self, code: str, openid: str | None = None) -> dict[str, Any]:
        """Exchange a getPhoneNumber code; returns ``phone_info``."""
        body: dict[str, Any] = {"code": code}
        if openid is not None:
            body["openid"] = openid
        payload = await self._call("POST", "/wxa/business/getuserphonenumber", json_body=body)
        info = payload.get("phone_info")
        return info if isinstance(info, dict) else {}

    async def send_subscribe_message(
        self,
        touser: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        miniprogram_state: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """Send a mini-program subscribe message; ``data`` maps keys to plain strings."""
        body = _message_body(
            touser, template_id, data, page=page, miniprogram_state=miniprogram_state, lang=lang
        )
        return await self._send("/cgi-bin/message/subscribe/send", body)

    # ----------------------------------------------------------------- Official Account

    async def send_template_message(
        self,
        touser: str,
        template_id: str,
        data: Mapping[str, str],
        url: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """Send an Official Account template message; returns ``{"msgid": ...}``."""
        body = _message_body(
            touser,
            template_id,
            data,
            url=url,
            miniprogram=dict(miniprogram) if miniprogram is not None else None,
            client_msg_id=client_msg_id,
        )
        return await self._send("/cgi-bin/message/template/send", body)

    async def send_custom_message(
        self, touser: str, msgtype: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Send a customer-service message of ``msgtype`` with its payload object."""
        body = {"touser": touser, "msgtype": msgtype, msgtype: dict(payload)}
        return await self._send("/cgi-bin/message/custom/send", body)

    async def send_custom_text(self, touser: str, content: str) -> dict[str, Any]:
        """Send a customer-service text message."""
        return await self.send_custom_message(touser, "text", {"content": content})

    async def send_custom_image(self, touser: str, media_id: str) -> dict[str, Any]:
        """Send a customer-service image message (``media_id`` from :meth:`upload_media`)."""
        return await self.send_custom_message(touser, "image", {"media_id": media_id})

    async def upload_media(
        self, media_type: str, filename: str, content: bytes, content_type: str
    ) -> dict[str, Any]:
        """Upload temporary media (valid 3 days); returns type, media_id and created_at."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            media = io.BytesIO(content)  # a stream: aiohttp warns about large raw bytes
            data.add_field("media", media, filename=filename, content_type=content_type)
            return data

        return await self._call(
            "POST", "/cgi-bin/media/upload", params={"type": media_type}, form=form
        )

    async def get_user_info(self, openid: str, lang: str = "zh_CN") -> dict[str, Any]:
        """Follower info: ``subscribe`` (0/1), openid and unionid when bound."""
        params = {"openid": openid, "lang": lang}
        return await self._call("GET", "/cgi-bin/user/info", params=params)

    # ----------------------------------------------------------------- member card

    async def upload_card_logo(self, filename: str, content: bytes, content_type: str) -> str:
        """Upload an image for a card (``media/uploadimg``); returns the URL WeChat hosts it at."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            media = io.BytesIO(content)
            data.add_field("media", media, filename=filename, content_type=content_type)
            return data

        payload = await self._call("POST", "/cgi-bin/media/uploadimg", form=form)
        url = payload.get("url")
        if not isinstance(url, str) or not url:
            raise WeChatNetworkError("uploadimg answer without url", "/cgi-bin/media/uploadimg")
        return url

    async def create_card(self, body: Mapping[str, Any]) -> str:
        """Create a card (``card/create``, body from ``member_card.create_body``); its card_id.

        Not idempotent (a repeat creates a second card): retried only where it cannot have
        arrived, as message sends are.
        """
        payload = await self._call("POST", "/card/create", json_body=dict(body), send=True)
        card_id = payload.get("card_id")
        if not isinstance(card_id, str) or not card_id:
            raise WeChatNetworkError("card/create answer without card_id", "/card/create")
        return card_id

    async def update_card(self, body: Mapping[str, Any]) -> bool:
        """Update a card (``card/update``); True when the change sends it to review again."""
        payload = await self._call("POST", "/card/update", json_body=dict(body))
        return bool(payload.get("send_check", False))

    async def activate_member_card(self, body: Mapping[str, Any]) -> None:
        """Activate a member's card in the wallet (``card/membercard/activate``, body from
        ``member_card.activate_body``).

        May be repeated: a code is activated once, and WeChat refuses a second activation, which
        the caller reads as done.
        """
        await self._call("POST", "/card/membercard/activate", json_body=dict(body))

    async def update_member_card_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change what a member's card shows (``card/membercard/updateuser``, body from
        ``member_card.update_user_body``); WeChat's ``result_bonus``, ``result_balance`` and
        ``openid``.

        May be repeated: the body carries the absolute balance, never a change of it.
        """
        return await self._call("POST", "/card/membercard/updateuser", json_body=dict(body))
