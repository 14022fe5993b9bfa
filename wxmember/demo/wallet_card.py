"""The demo brand's member card (微信会员卡): defined by the owner, live at the demo's fake WeChat.

The definition is saved once, through the handler operators use (audited under the demo owner).
The fake WeChat lives in memory, so every start of the demo creates the card at it afresh (the
body is the service's own `card/create` body, so the fake's rules check it, and the logo goes
through the fake's `media/uploadimg` rules), approves it as WeChat's review would, and records
the approval as the `card_pass_check` event does. The card is then live: members may add it to
the wallet (`GET /api/v1/card/wechat-card`, then `/fake-wechat/_demo/add-card`). A real brand's
card waits for WeChat's review instead, up to a few working days.

`/fake-wechat/_demo/add-card` and `/_demo/delete-card` play the member's phone: the fake WeChat
checks the `cardExt` as `wx.addCard` does, changes its wallet, and pushes the event to the
Official Account webhook as WeChat would, signed (and encrypted, unless the account is plain).
"""

from __future__ import annotations

import io
import secrets
import time
from dataclasses import replace
from typing import Any

import aiohttp
import xmltodict
from aiohttp import web
from PIL import Image
from tortoise.expressions import F
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from handlers.wallet_card import WalletCardBody, current_definition, record_review, save_definition
from handlers.wallet_card.definition import DEFINITION_ID, card_home
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeAPIError, FakeWeChat
from wxmember.core.fake_wechat.cards import create, upload_image
from wxmember.core.inputs import validate
from wxmember.core.models.wallet_card import ReviewState, WalletCard
from wxmember.core.wechat.member_card import create_body
from wxmember.demo.seeds import demo_owner

DEFINITION = {
    "color": "Color010",
    "title": "茶语会员卡",
    "notice": "结账时出示会员码",
    "description": "每消费1元得1积分，积分可在商城兑换茶饮与好礼。\n会员等级按成长值评定。",
    "prerogative": "会员专享折扣、生日礼与升级礼。",
    "show_points": True,
    "show_tier": True,
    "show_coupons": True,
}


def _logo(color_hex: str) -> bytes:
    """A plain square logo in the card's colour, as WeChat shows it (300 x 300 pixels)."""
    out = io.BytesIO()
    Image.new("RGB", (300, 300), color_hex).save(out, format="PNG")
    return out.getvalue()


async def seed(services: Services, fake: FakeWeChat) -> None:
    """Define the card once; create and approve it at this run's fake WeChat."""
    definition = await current_definition()
    if definition.version == 0:
        saved = validate(WalletCardBody, DEFINITION)
        definition = await save_definition(services, await demo_owner(), saved)
    logo_url = str(upload_image(fake.card_images, _logo(definition.color_hex))["url"])
    face = replace(definition.face(), logo_url=logo_url)
    appid = services.config.official.appid
    card_id = str(
        create(fake.cards, fake.card_images, appid, create_body(face, card_home(services)))[
            "card_id"
        ]
    )
    await WalletCard.filter(id=DEFINITION_ID).update(
        logo_url=logo_url,
        card_id=card_id,
        review_state=ReviewState.SUBMITTED,
        synced_version=F("version"),
        synced_at=services.clock.now(),
        sync_error=None,
    )
    fake.review_card(card_id, approved=True)
    await record_review(services, card_id, approved=True)


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def official_push(config: Config, fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The body and query WeChat posts to `/wechat/official` for an event from `FromUserName`."""
    official = config.official
    token = official.token.get_secret_value()
    at, nonce = str(int(time.time())), secrets.token_hex(5)
    header = {"ToUserName": "gh_demoofficial", "FromUserName": fields["FromUserName"]}
    header |= {"CreateTime": at, "MsgType": "event"}
    rest = {name: value for name, value in fields.items() if name != "FromUserName"}
    xml = (
        "<xml>"
        + "".join(
            f"<{name}>{value if name == 'CreateTime' else _cdata(value)}</{name}>"
            for name, value in (header | rest).items()
        )
        + "</xml>"
    )
    query = {"signature": _signature(token, at, nonce), "timestamp": at, "nonce": nonce}
    if official.mode == "plain":
        return xml, query
    crypto = WeChatCrypto(token, official.encoding_aes_key.get_secret_value(), official.appid)
    sealed = xmltodict.parse(crypto.encrypt_message(xml, nonce, at))["xml"]["Encrypt"]
    query |= {"encrypt_type": "aes", "msg_signature": _signature(token, at, nonce, sealed)}
    body = f"<xml><ToUserName>{_cdata(header['ToUserName'])}</ToUserName>"
    return body + f"<Encrypt>{_cdata(sealed)}</Encrypt></xml>", query


def wallet_routes(fake: FakeWeChat, config: Config) -> web.RouteTableDef:
    """`/_demo/add-card` and `/_demo/delete-card`: the member's phone, then WeChat's push."""
    routes = web.RouteTableDef()

    async def deliver(request: web.Request, fields: dict[str, str]) -> web.Response:
        body, query = official_push(config, fields)
        url = f"{request.url.origin()}/wechat/official"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, params=query, data=body.encode()) as answer:
                status, text = answer.status, await answer.text()
        return web.json_response({"event": fields, "webhook": {"status": status, "body": text}})

    async def body_of(request: web.Request) -> dict[str, Any]:
        body = await request.json()
        return body if isinstance(body, dict) else {}

    @routes.post("/_demo/add-card")
    async def add_card(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            fields = fake.add_card(
                str(body.get("openid") or ""), str(body.get("card_id")), str(body.get("card_ext"))
            )
        except FakeAPIError as exc:
            return web.json_response({"errcode": exc.errcode, "errmsg": exc.errmsg})
        return await deliver(request, fields)

    @routes.post("/_demo/delete-card")
    async def delete_card(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            fields = fake.delete_card(
                str(body.get("openid") or ""), str(body.get("card_id")), str(body.get("code"))
            )
        except FakeAPIError as exc:
            return web.json_response({"errcode": exc.errcode, "errmsg": exc.errmsg})
        return await deliver(request, fields)

    return routes
