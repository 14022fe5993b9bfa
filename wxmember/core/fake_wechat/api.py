"""Endpoint behaviour of the fake WeChat server: request fields in, response dict out.

Each function takes the :class:`FakeWeChat` state and the parsed request (query values and/or
JSON body) and returns the success body, or raises :class:`FakeAPIError` with the errcode the
real platform gives for the same situation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxmember.core.fake_wechat.state import DEDUP_TTL, FakeAPIError, FakeWeChat, Token
from wxmember.core.fake_wechat.values import value_ok

FORCE_SPACING = 30.0
FORCE_PER_DAY = 20
STABLE_ROTATE_EARLY = 300.0

MEDIA_LIMITS: dict[str, int] = {
    "image": 2 * 1024 * 1024,
    "voice": 2 * 1024 * 1024,
    "video": 10 * 1024 * 1024,
    "thumb": 64 * 1024,
}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
_CUSTOM_MEDIA_TYPES = {"image", "voice", "mpnews"}
_CUSTOM_TYPES = {"text", "video", "music", "news", "msgmenu", "miniprogrampage"}


def _token_body(state: FakeWeChat, token: Token) -> dict[str, Any]:
    return {"access_token": token.value, "expires_in": round(token.expires_at - state.now())}


def token(state: FakeWeChat, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /cgi-bin/token: a new token per call; earlier ones live on for the grace period."""
    if query.get("grant_type") != "client_credential":
        raise FakeAPIError(40002, "invalid grant_type")
    appid = state.check_app(query.get("appid"), query.get("secret"))
    cutoff = state.now() + state.token_grace
    for old in state.tokens.values():
        if old.appid == appid and old.kind == "token":
            old.expires_at = min(old.expires_at, cutoff)
    return _token_body(state, state.issue_token(appid, "token"))


def stable_token(state: FakeWeChat, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /cgi-bin/stable_token: the same token until 5 minutes before expiry.

    ``force_refresh`` revokes the current token at once, but at most 20 times a day and 30 s
    apart; a forced call inside those limits answers like a normal one.
    """
    if body.get("grant_type") != "client_credential":
        raise FakeAPIError(40002, "invalid grant_type")
    appid = state.check_app(body.get("appid"), body.get("secret"))
    now = state.now()
    current = state.tokens.get(state.stable_current.get(appid, ""))
    if body.get("force_refresh") is True and current is not None:
        history = [t for t in state.forced_refreshes.get(appid, []) if t > now - 86400]
        if len(history) < FORCE_PER_DAY and (not history or now - history[-1] >= FORCE_SPACING):
            state.forced_refreshes[appid] = [*history, now]
            current.revoked = True
            current = None
    if current is None or current.revoked or current.expires_at - now <= STABLE_ROTATE_EARLY:
        # the previous token keeps working until its own expiry (the 5-minute overlap)
        current = state.issue_token(appid, "stable")
        state.stable_current[appid] = current.value
    return _token_body(state, current)


def jscode2session(state: FakeWeChat, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /sns/jscode2session: openid, session_key and unionid (when bound)."""
    state.check_app(query.get("appid"), query.get("secret"))
    if query.get("grant_type") != "authorization_code":
        raise FakeAPIError(40002, "invalid grant_type")
    fields = state.take_code(state.login_codes, query.get("js_code"), used_errcode=40163)
    result = {"openid": fields["openid"], "session_key": fields["session_key"]}
    if fields["unionid"] is not None:
        result["unionid"] = fields["unionid"]
    return result


def phone_number(state: FakeWeChat, appid: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /wxa/business/getuserphonenumber: ``phone_info`` for a one-time code."""
    raw_code = body.get("code")
    code = state.phone_codes.get(raw_code) if isinstance(raw_code, str) else None
    bound = code.fields["openid"] if code is not None else None
    if bound is not None and body.get("openid") not in (None, bound):
        raise FakeAPIError(40029, "invalid code, code and openid do not match")
    fields = state.take_code(state.phone_codes, raw_code, used_errcode=40029)
    country = str(fields["country_code"])
    pure = fields["phone"]
    info = {
        "phoneNumber": pure if country == "86" else f"+{country}{pure}",
        "purePhoneNumber": pure,
        "countryCode": int(country) if country.isdigit() else country,
        "watermark": {"timestamp": int(state.now()), "appid": appid},
    }
    return {"errcode": 0, "errmsg": "ok", "phone_info": info}


def _plain_data(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FakeAPIError(47003, "argument invalid! data is empty")
    plain: dict[str, Any] = {}
    for key, item in raw.items():
        plain[key] = item.get("value") if isinstance(item, dict) else None
    return plain


def _validate_data(
    data: Mapping[str, Any], keys: list[str] | None, enums: Mapping[str, list[str]]
) -> None:
    for key in keys if keys is not None else list(data):
        if not value_ok(key, data.get(key), enums.get(key)):
            raise FakeAPIError(47003, f"argument invalid! data.{key}.value invalid")


def _touser(body: Mapping[str, Any]) -> str:
    touser = body.get("touser")
    if not isinstance(touser, str) or not touser:
        raise FakeAPIError(40003, "invalid openid")
    return touser


def subscribe_send(state: FakeWeChat, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /cgi-bin/message/subscribe/send: spends one grant of (touser, template)."""
    touser = _touser(body)
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or template_id not in state.subscribe_templates:
        raise FakeAPIError(40037, "invalid template_id")
    data = _plain_data(body.get("data"))
    keys = state.subscribe_templates[template_id]
    _validate_data(data, keys, state.template_enums.get(template_id, {}))
    state_name = body.get("miniprogram_state")
    if state_name is not None and state_name not in ("developer", "trial", "formal"):
        raise FakeAPIError(47003, "argument invalid! miniprogram_state invalid")
    if state.grants[(touser, template_id)] <= 0:
        raise FakeAPIError(43101, "user refuse to accept the msg")
    state.grants[(touser, template_id)] -= 1
    extra = {k: body[k] for k in ("page", "miniprogram_state", "lang") if k in body}
    sent = state.record_sent("subscribe", touser, template_id, data, extra)
    return {"errcode": 0, "errmsg": "ok", "msgid": sent.msgid}


def template_send(state: FakeWeChat, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /cgi-bin/message/template/send: followers only; client_msg_id deduplicates."""
    touser = _touser(body)
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or template_id not in state.oa_templates:
        raise FakeAPIError(40037, "invalid template_id")
    if touser not in state.followers:
        raise FakeAPIError(43004, "require subscribe")
    data = _plain_data(body.get("data"))
    _validate_data(data, state.oa_templates[template_id], {})
    now = state.now()
    client_msg_id = body.get("client_msg_id")
    if client_msg_id:
        previous = state.dedup.get((touser, client_msg_id))
        if previous is not None and previous[1] + DEDUP_TTL > now:
            return {"errcode": 0, "errmsg": "ok", "msgid": previous[0]}
    extra = {k: body[k] for k in ("url", "miniprogram", "client_msg_id") if k in body}
    sent = state.record_sent("template", touser, template_id, data, extra)
    if client_msg_id:
        state.dedup[(touser, client_msg_id)] = (sent.msgid, now)
    return {"errcode": 0, "errmsg": "ok", "msgid": sent.msgid}


def custom_send(state: FakeWeChat, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /cgi-bin/message/custom/send: only inside a window opened by the user."""
    touser = _touser(body)
    msgtype = body.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in _CUSTOM_MEDIA_TYPES | _CUSTOM_TYPES:
        raise FakeAPIError(40008, "invalid message type")
    payload = body.get(msgtype)
    if not isinstance(payload, dict):
        raise FakeAPIError(47001, f"data format error, {msgtype} missing")
    if msgtype == "text" and not (isinstance(payload.get("content"), str) and payload["content"]):
        raise FakeAPIError(44004, "empty content")
    if msgtype in _CUSTOM_MEDIA_TYPES and state.live_media(payload.get("media_id")) is None:
        raise FakeAPIError(40007, "invalid media_id")
    state.use_window(touser)
    state.record_sent("custom", touser, None, dict(payload), {"msgtype": msgtype})
    return {"errcode": 0, "errmsg": "ok"}


def media_upload(
    state: FakeWeChat, media_type: str | None, filename: str, content_type: str, content: bytes
) -> dict[str, Any]:
    """POST /cgi-bin/media/upload: keeps the bytes, returns a media id valid for 3 days."""
    if media_type not in MEDIA_LIMITS:
        raise FakeAPIError(40004, "invalid media type")
    if len(content) > MEDIA_LIMITS[media_type]:
        if media_type == "image":
            raise FakeAPIError(40009, "invalid image size")
        raise FakeAPIError(45001, "media size out of limit")
    if media_type in ("image", "thumb") and not content.startswith(
        _IMAGE_MAGIC if media_type == "image" else _IMAGE_MAGIC[1]
    ):
        raise FakeAPIError(40005, "invalid file type")
    media = state.store_media(media_type, filename, content_type, content)
    return {"type": media_type, "media_id": media.media_id, "created_at": int(media.created_at)}


def user_info(state: FakeWeChat, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /cgi-bin/user/info: subscribe status, and unionid for followers when bound."""
    openid = query.get("openid")
    if not openid:
        raise FakeAPIError(40003, "invalid openid")
    if openid not in state.followers:
        return {"subscribe": 0, "openid": openid}
    info: dict[str, Any] = {"subscribe": 1, "openid": openid, "language": "zh_CN"}
    if state.followers[openid] is not None:
        info["unionid"] = state.followers[openid]
    return info
