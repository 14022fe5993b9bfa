"""HTTP face of the fake WeChat server (an aiohttp application).

Routes mirror ``api.weixin.qq.com``: the token endpoints, jscode2session, the phone number,
subscribe/template/customer-service sends, temporary media upload, user info, card images,
member cards (create, update, a member's card activated and updated) and API tickets
(getticket). Errors are
answered like WeChat: HTTP 200 with ``{"errcode": N, "errmsg": "... rid: <id>"}``. JSON
endpoints refuse form posts and bodies that are not a JSON object with 47001.

A middleware counts calls per path (``FakeWeChat.calls``) and applies injected faults before
the endpoint runs. ``GET /_fake/sent`` lists every message the fake accepted and
``GET /_fake/wallet?openid=`` what a user sees in the card wallet (for the demo).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from functools import partial
from typing import Any

from aiohttp import web

from wxmember.core.fake_wechat import api, cards, wallet
from wxmember.core.fake_wechat.state import FakeAPIError, FakeWeChat, Fault

FAKE_WECHAT_KEY = web.AppKey("fake_wechat", FakeWeChat)
# resource -> API path as WeChat spells it, also when the app is mounted under a prefix
_API_PATHS = web.AppKey("fake_wechat_api_paths", dict)
_PENDING = web.AppKey("fake_wechat_pending", set)

_dumps = partial(json.dumps, ensure_ascii=False)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_DEFAULT_ERRMSG = {
    -1: "system error",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    40001: "invalid credential, access_token is invalid or not latest",
    42001: "access_token expired",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Op = Callable[[FakeWeChat, str, Mapping[str, Any]], dict[str, Any]]


def _error(state: FakeWeChat, errcode: int, errmsg: str) -> web.Response:
    body = {"errcode": errcode, "errmsg": f"{errmsg} rid: {state.new_rid()}"}
    return web.json_response(body, dumps=_dumps)


def _ok(body: Mapping[str, Any]) -> web.Response:
    return web.json_response(dict(body), dumps=_dumps)


@web.middleware
async def _wechat_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.config_dict[FAKE_WECHAT_KEY]
    path = request.config_dict[_API_PATHS].get(request.match_info.route.resource)
    if path is None:  # not a WeChat API route: /_fake/sent, unknown paths, routes added later
        return await handler(request)
    state.calls[path] += 1
    fault = state.next_fault(path)
    if fault is None or not fault.delay:
        return await _answer(request, handler, state, fault)
    # A slow WeChat has the whole request and finishes the work even if the caller gives up.
    await request.read()
    task = asyncio.create_task(_answer(request, handler, state, fault))
    pending = request.config_dict[_PENDING]
    pending.add(task)
    task.add_done_callback(pending.discard)
    return await asyncio.shield(task)


async def _answer(
    request: web.Request, handler: Handler, state: FakeWeChat, fault: Fault | None
) -> web.StreamResponse:
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return web.Response(status=fault.status, text=f"<html>{fault.status}</html>")
        if fault.errcode is not None:
            errmsg = fault.errmsg or _DEFAULT_ERRMSG.get(fault.errcode, "injected error")
            return _error(state, fault.errcode, errmsg)
    try:
        return await handler(request)
    except FakeAPIError as exc:
        return _error(state, exc.errcode, exc.errmsg)


async def _finish_pending(app: web.Application) -> None:
    if app[_PENDING]:
        await asyncio.gather(*app[_PENDING], return_exceptions=True)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type in _FORM_TYPES:
        raise FakeAPIError(47001, "data format error")
    try:
        body = json.loads(await request.read())
    except ValueError:  # includes UnicodeDecodeError
        raise FakeAPIError(47001, "data format error") from None
    if not isinstance(body, dict):
        raise FakeAPIError(47001, "data format error")
    return body


def _token_protected_json(op: Op) -> Handler:
    """A POST endpoint taking ``access_token`` in the query and a JSON object body."""

    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.config_dict[FAKE_WECHAT_KEY]
        appid = state.check_token(request.query.get("access_token"))
        return _ok(op(state, appid, await _json_body(request)))

    return handler


async def _token(request: web.Request) -> web.StreamResponse:
    return _ok(api.token(request.config_dict[FAKE_WECHAT_KEY], request.query))


async def _stable_token(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    return _ok(api.stable_token(request.config_dict[FAKE_WECHAT_KEY], body))


async def _jscode2session(request: web.Request) -> web.StreamResponse:
    return _ok(api.jscode2session(request.config_dict[FAKE_WECHAT_KEY], request.query))


async def _media_upload(request: web.Request) -> web.StreamResponse:
    state = request.config_dict[FAKE_WECHAT_KEY]
    state.check_token(request.query.get("access_token"))
    if request.content_type != "multipart/form-data":
        raise FakeAPIError(41005, "media data missing")
    form = await request.post()
    media = form.get("media")
    if not isinstance(media, web.FileField):
        raise FakeAPIError(41005, "media data missing")
    content = media.file.read()
    result = api.media_upload(
        state, request.query.get("type"), media.filename, media.content_type, content
    )
    return _ok(result)


async def _upload_card_image(request: web.Request) -> web.StreamResponse:
    state = request.config_dict[FAKE_WECHAT_KEY]
    state.check_token(request.query.get("access_token"))
    if request.content_type != "multipart/form-data":
        raise FakeAPIError(41005, "media data missing")
    media = (await request.post()).get("media")
    if not isinstance(media, web.FileField):
        raise FakeAPIError(41005, "media data missing")
    return _ok(cards.upload_image(state.card_images, media.file.read()))


async def _user_info(request: web.Request) -> web.StreamResponse:
    state = request.config_dict[FAKE_WECHAT_KEY]
    state.check_token(request.query.get("access_token"))
    return _ok(api.user_info(state, request.query))


async def _get_ticket(request: web.Request) -> web.StreamResponse:
    state = request.config_dict[FAKE_WECHAT_KEY]
    appid = state.check_token(request.query.get("access_token"))
    return _ok(wallet.get_ticket(state, appid, request.query.get("type")))


async def _sent(request: web.Request) -> web.StreamResponse:
    sent = [asdict(message) for message in request.config_dict[FAKE_WECHAT_KEY].sent]
    return web.json_response(sent, dumps=_dumps)


async def _wallet(request: web.Request) -> web.StreamResponse:
    """What `?openid=` sees in the card wallet: each card, activated or not, its balance and
    fields, and how many activations and updates it took."""
    entries = request.config_dict[FAKE_WECHAT_KEY].wallet_of(request.query.get("openid", ""))
    shown = [
        {
            "card_id": entry.card_id,
            "code": entry.code,
            "activated": entry.activated,
            "deleted": entry.deleted,
            "bonus": entry.bonus,
            "custom_fields": {str(n): value for n, value in sorted(entry.custom_fields.items())},
            "activations": len(entry.activations),
            "updates": len(entry.updates),
        }
        for entry in entries
    ]
    return web.json_response(shown, dumps=_dumps)


def create_fake_wechat_app(state: FakeWeChat) -> web.Application:
    """The fake ``api.weixin.qq.com`` serving ``state``."""
    app = web.Application(middlewares=[_wechat_middleware], client_max_size=32 * 1024 * 1024)
    app[FAKE_WECHAT_KEY] = state
    app[_PENDING] = set()
    app.on_cleanup.append(_finish_pending)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/cgi-bin/token", _token),
        ("POST", "/cgi-bin/stable_token", _stable_token),
        ("GET", "/sns/jscode2session", _jscode2session),
        ("POST", "/wxa/business/getuserphonenumber", _token_protected_json(api.phone_number)),
        (
            "POST",
            "/cgi-bin/message/subscribe/send",
            _token_protected_json(lambda state, _appid, body: api.subscribe_send(state, body)),
        ),
        (
            "POST",
            "/cgi-bin/message/template/send",
            _token_protected_json(lambda state, _appid, body: api.template_send(state, body)),
        ),
        (
            "POST",
            "/cgi-bin/message/custom/send",
            _token_protected_json(lambda state, _appid, body: api.custom_send(state, body)),
        ),
        ("POST", "/cgi-bin/media/upload", _media_upload),
        ("GET", "/cgi-bin/user/info", _user_info),
        ("GET", "/cgi-bin/ticket/getticket", _get_ticket),
        ("POST", "/cgi-bin/media/uploadimg", _upload_card_image),
        (
            "POST",
            "/card/create",
            _token_protected_json(
                lambda state, appid, body: cards.create(state.cards, state.card_images, appid, body)
            ),
        ),
        (
            "POST",
            "/card/update",
            _token_protected_json(
                lambda state, appid, body: cards.update(state.cards, state.card_images, appid, body)
            ),
        ),
        ("POST", "/card/membercard/activate", _token_protected_json(wallet.activate)),
        ("POST", "/card/membercard/updateuser", _token_protected_json(wallet.update_user)),
    ]
    app[_API_PATHS] = {
        app.router.add_route(method, path, handler).resource: path
        for method, path, handler in routes
    }
    app.router.add_get("/_fake/sent", _sent)
    app.router.add_get("/_fake/wallet", _wallet)
    return app
