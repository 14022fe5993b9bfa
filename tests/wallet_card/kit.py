"""Builders for the member card tests: a logo as WeChat takes it, a card face, wechatpy's side."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter
from wechatpy import WeChatClient as WechatpyClient

from tests.support.wechat_push import push_xml
from wxmember.core.wechat.member_card import CardFace, CardHome

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MINIAPP_ORIGINAL_ID = "gh_0a1b2c3d4e5f"


def face(logo_url: str, **changes: Any) -> CardFace:
    """A complete card face; keyword arguments change fields."""
    fields: dict[str, Any] = {
        "logo_url": logo_url,
        "color": "Color010",
        "title": "测试会员卡",
        "notice": "结账时出示会员码",
        "description": "积分可在商城兑换礼品。",
        "prerogative": "会员专享折扣与生日礼。",
        "show_points": True,
        "show_tier": True,
        "show_coupons": True,
    }
    return CardFace(**(fields | changes))


def home(**changes: Any) -> CardHome:
    fields: dict[str, Any] = {
        "brand_name": "测试品牌",
        "miniapp_original_id": MINIAPP_ORIGINAL_ID,
        "miniapp_page": "pages/card/index",
        "center_title": "会员码",
    }
    return CardHome(**(fields | changes))


class _Capture(BaseAdapter):
    """Answers every request of a requests session with `answer`, keeping the requests."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer
        self.sent: list[requests.PreparedRequest] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.answer).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


def wechatpy_request(
    call: Callable[[WechatpyClient], Any], answer: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of the request wechatpy sends for `call` (intercepted)."""
    client = WechatpyClient("wxofficial000001", "secret", access_token="wechatpy-token")
    capture = _Capture(answer)
    client._http.mount("https://", capture)
    with warnings.catch_warnings():  # wechatpy's card API calls its deprecated `_post`
        warnings.simplefilter("ignore", DeprecationWarning)
        call(client)
    [request] = capture.sent
    assert isinstance(request.body, bytes | str)
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    path = str(request.path_url).split("?")[0]
    return path, json.loads(body.decode("utf-8"))


def review_event_xml(fields: dict[str, str], at: int) -> str:
    """The push WeChat sends when it has reviewed a card (from the platform's system account)."""
    return push_xml("oSystemAccount-card-review", "event", at, **fields)
