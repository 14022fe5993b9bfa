"""A bare aiohttp Official Account webhook on wechatpy: the least a text round trip costs.

    python -m bench.wechat_echo --port 8091 --token T --appid A --aes-key K --reply TEXT

It checks the query signature, decrypts the push when the query says `encrypt_type=aes`,
parses it with wechatpy, renders a text reply with a fixed content, and encrypts the reply when
the push was encrypted: what the service's webhook does, minus its routing, deduplication,
deadline and database. `GET /healthz` answers 200.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

ECHO = web.AppKey("echo", dict)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def receive(request: web.Request) -> web.Response:
    settings = request.app[ECHO]
    query = request.query
    try:
        check_signature(settings["token"], query["signature"], query["timestamp"], query["nonce"])
    except (KeyError, InvalidSignatureException):
        return web.Response(status=403, text="bad signature")
    body = await request.read()
    encrypted = query.get("encrypt_type") == "aes"
    crypto: WeChatCrypto = settings["crypto"]
    xml = (
        crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
        if encrypted
        else body.decode()
    )
    reply = create_reply(settings["reply"], parse_message(xml)).render()
    if encrypted:
        reply = crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
    return web.Response(text=reply, content_type="application/xml")


def create_echo_app(token: str, appid: str, aes_key: str, reply: str) -> web.Application:
    app = web.Application()
    app[ECHO] = {"token": token, "reply": reply, "crypto": WeChatCrypto(token, aes_key, appid)}
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{tail:.*}", receive)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wechat_echo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--aes-key", required=True)
    parser.add_argument("--reply", required=True)
    args = parser.parse_args(argv)
    app = create_echo_app(args.token, args.appid, args.aes_key, args.reply)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
