"""Card endpoints of the fake WeChat server: card images, creating and updating member cards.

The rules are WeChat's as its card documentation and error table give them: a member card only
(40071 otherwise), the required `base_info` fields (41011 `missing required fields`), one of the
named colours (40097 `invalid args`, the platform's answer for a value outside a list), texts
within their lengths (45021: title 9, brand name 12, notice 16 characters, a Chinese character
counting one and two others one), an unknown card id 40056 `invalid card id`, and on update
none of the fields WeChat keeps fixed once a card exists. A logo must be an image uploaded with
`media/uploadimg` to this platform. Written apart from the service's own checks on purpose: the
two check each other.

A created card waits in review (`CARD_STATUS_NOT_VERIFY`); `FakeWeChat.review_card` approves or
rejects it and gives the fields of the event WeChat would push. An update that changes the
title or the logo sends the card back to review (`send_check`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wxmember.core.fake_wechat.state import FakeAPIError

IMAGE_HOST = "http://mmbiz.qpic.cn/mmbiz_png/"
IMAGE_LIMIT = 1024 * 1024  # media/uploadimg: 1 MB, jpg or png
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")

COLOURS = frozenset(
    {
        "Color010",
        "Color020",
        "Color030",
        "Color040",
        "Color050",
        "Color060",
        "Color070",
        "Color080",
        "Color081",
        "Color082",
        "Color090",
        "Color100",
        "Color101",
        "Color102",
    }
)
_REQUIRED = ("logo_url", "brand_name", "code_type", "title", "color", "notice", "description")
_LIMITS = {"title": 9, "brand_name": 12, "notice": 16, "description": 1024, "center_title": 6}
_FIXED_ON_UPDATE = ("brand_name", "sku", "date_info", "use_custom_code", "get_limit")
_CODE_TYPES = frozenset(
    {"CODE_TYPE_TEXT", "CODE_TYPE_BARCODE", "CODE_TYPE_QRCODE", "CODE_TYPE_ONLY_QRCODE"}
)
_CUSTOM_NAME_TYPES = frozenset(
    {
        "FIELD_NAME_TYPE_LEVEL",
        "FIELD_NAME_TYPE_COUPON",
        "FIELD_NAME_TYPE_STAMP",
        "FIELD_NAME_TYPE_DISCOUNT",
        "FIELD_NAME_TYPE_ACHIEVEMEN",
        "FIELD_NAME_TYPE_MILEAGE",
        "FIELD_NAME_TYPE_SET_POINTS",
        "FIELD_NAME_TYPE_TIMS",
    }
)

NOT_VERIFIED = "CARD_STATUS_NOT_VERIFY"
VERIFY_FAIL = "CARD_STATUS_VERIFY_FAIL"
VERIFY_OK = "CARD_STATUS_VERIFY_OK"


@dataclass
class FakeCard:
    """A card the fake created: the member_card object as last sent, and its review status."""

    card_id: str
    appid: str
    member_card: dict[str, Any]
    status: str = NOT_VERIFIED
    refuse_reason: str | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every create/update body


def _units(text: str) -> int:
    return sum(1 if ch.isascii() else 2 for ch in text)


def _check_text(where: str, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise FakeAPIError(40097, f"invalid args, {where}.{name}")
    most = _LIMITS.get(name)
    if most is not None and _units(value) > 2 * most:
        raise FakeAPIError(45021, f"field length exceeds limit, {where}.{name}")


def _check_base_info(
    images: Mapping[str, bytes], base_info: Mapping[str, Any], *, update: bool
) -> None:
    if not update:
        for name in _REQUIRED:
            if base_info.get(name) in (None, ""):
                raise FakeAPIError(41011, f"missing required fields: base_info.{name}")
        sku, dates = base_info.get("sku"), base_info.get("date_info")
        if not isinstance(sku, dict) or not isinstance(sku.get("quantity"), int):
            raise FakeAPIError(41011, "missing required fields: base_info.sku.quantity")
        if not isinstance(dates, dict) or not dates.get("type"):
            raise FakeAPIError(41011, "missing required fields: base_info.date_info")
    else:
        for name in _FIXED_ON_UPDATE:
            if name in base_info:
                raise FakeAPIError(40097, f"invalid args, base_info.{name} can not be updated")
    for name in (*_REQUIRED, "center_title"):
        if name in base_info:
            _check_text("base_info", name, base_info[name])
    if "color" in base_info and base_info["color"] not in COLOURS:
        raise FakeAPIError(40097, "invalid args, base_info.color")
    if "code_type" in base_info and base_info["code_type"] not in _CODE_TYPES:
        raise FakeAPIError(40072, "invalid encode type")
    if "logo_url" in base_info and base_info["logo_url"] not in images:
        raise FakeAPIError(40097, "invalid args, base_info.logo_url")
    if "center_title" in base_info and not (
        base_info.get("center_url") or base_info.get("center_app_brand_user_name")
    ):
        raise FakeAPIError(41011, "missing required fields: base_info.center_url")


def _check_member_fields(member_card: Mapping[str, Any]) -> None:
    for flag in ("supply_bonus", "supply_balance", "wx_activate", "wx_activate_after_submit"):
        if flag in member_card and not isinstance(member_card[flag], bool):
            raise FakeAPIError(40097, f"invalid args, {flag}")
    prerogative = member_card.get("prerogative")
    if prerogative is not None:
        _check_text("member_card", "prerogative", prerogative)
        if _units(prerogative) > 2 * 1024:
            raise FakeAPIError(45021, "field length exceeds limit, member_card.prerogative")
    for number in (1, 2, 3):
        custom = member_card.get(f"custom_field{number}")
        if custom is None:
            continue
        if not isinstance(custom, dict) or (
            "name_type" in custom and custom["name_type"] not in _CUSTOM_NAME_TYPES
        ):
            raise FakeAPIError(40097, f"invalid args, custom_field{number}")
        if "name_type" not in custom and not custom.get("name"):
            raise FakeAPIError(41011, f"missing required fields: custom_field{number}.name")


def upload_image(images: dict[str, bytes], content: bytes) -> dict[str, Any]:
    """POST /cgi-bin/media/uploadimg: a jpg or png of at most 1 MB; returns its URL."""
    if len(content) > IMAGE_LIMIT:
        raise FakeAPIError(40009, "invalid image size")
    if not content.startswith(_IMAGE_MAGIC):
        raise FakeAPIError(40005, "invalid file type")
    url = f"{IMAGE_HOST}{secrets.token_urlsafe(24)}/0"
    images[url] = content
    return {"url": url}


def create(
    cards: dict[str, FakeCard], images: Mapping[str, bytes], appid: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """POST /card/create: a member card, waiting in review; returns its card_id."""
    card = body.get("card")
    if not isinstance(card, dict):
        raise FakeAPIError(41011, "missing required fields: card")
    if card.get("card_type") != "MEMBER_CARD":
        raise FakeAPIError(40071, "invalid card type")
    member_card = card.get("member_card")
    if not isinstance(member_card, dict):
        raise FakeAPIError(41011, "missing required fields: member_card")
    base_info = member_card.get("base_info")
    if not isinstance(base_info, dict):
        raise FakeAPIError(41011, "missing required fields: base_info")
    _check_base_info(images, base_info, update=False)
    _check_member_fields(member_card)
    if not member_card.get("prerogative"):
        raise FakeAPIError(41011, "missing required fields: member_card.prerogative")
    card_id = "p" + secrets.token_urlsafe(20)
    cards[card_id] = FakeCard(card_id, appid, dict(member_card), bodies=[dict(body)])
    return {"errcode": 0, "errmsg": "ok", "card_id": card_id}


def update(
    cards: dict[str, FakeCard], images: Mapping[str, bytes], appid: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """POST /card/update: changes a member card; a new title or logo goes to review again."""
    card_id = body.get("card_id")
    if not isinstance(card_id, str) or not card_id:
        raise FakeAPIError(41012, "missing card_id")
    found = cards.get(card_id)
    if found is None or found.appid != appid:
        raise FakeAPIError(40056, "invalid card id")
    member_card = body.get("member_card")
    if not isinstance(member_card, dict):
        raise FakeAPIError(40071, "invalid card type")
    base_info = member_card.get("base_info", {})
    if not isinstance(base_info, dict):
        raise FakeAPIError(40097, "invalid args, base_info")
    _check_base_info(images, base_info, update=True)
    _check_member_fields(member_card)
    before = found.member_card.get("base_info", {})
    send_check = any(
        name in base_info and base_info[name] != before.get(name) for name in ("title", "logo_url")
    )
    found.member_card = {
        **found.member_card,
        **{k: v for k, v in member_card.items() if k != "base_info"},
        "base_info": {**before, **base_info},
    }
    found.bodies.append(dict(body))
    if send_check:
        found.status, found.refuse_reason = NOT_VERIFIED, None
    return {"errcode": 0, "errmsg": "ok", "send_check": send_check}
