"""The stack's WeChat: the fake WeChat API server as a process of its own.

    python -m stack.wechat --port 18082

It knows the stack's two apps (stack/layout.py), hands out login and phone codes like the
demo's (`/_demo/...`), lists what it delivered (`/_fake/sent`) and takes faults from the fault
suite: `POST /_stack/faults` with `{"path", "times", "errcode"?, "status"?, "delay"?}` makes
the next `times` calls to that API path fail or stall; `DELETE /_stack/faults` ends them all.
`/_stack/template` and `/_stack/followers` arrange an Official Account template and followers.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from stack.layout import MINIAPP, OFFICIAL
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app
from wxmember.demo import demo_routes


def fault_routes(fake: FakeWeChat) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/_stack/faults")
    async def inject(request: web.Request) -> web.Response:
        body = await request.json()
        fake.inject(
            str(body["path"]),
            errcode=body.get("errcode"),
            status=body.get("status"),
            delay=body.get("delay"),
            times=int(body.get("times", 1)),
        )
        return web.json_response({"ok": True})

    @routes.delete("/_stack/faults")
    async def clear(request: web.Request) -> web.Response:
        fake.faults.clear()
        return web.json_response({"ok": True})

    @routes.post("/_stack/template")
    async def template(request: web.Request) -> web.Response:
        """An Official Account template message, with its data keys."""
        body = await request.json()
        fake.register_template(str(body["template_id"]), list(body["keys"]))
        return web.json_response({"ok": True})

    @routes.post("/_stack/followers")
    async def followers(request: web.Request) -> web.Response:
        """Users who follow the Official Account."""
        for openid in (await request.json())["openids"]:
            fake.add_follower(str(openid))
        return web.json_response({"ok": True})

    return routes


def create_stack_wechat() -> web.Application:
    fake = FakeWeChat()
    fake.register_app(*MINIAPP)
    fake.register_app(*OFFICIAL)
    app = create_fake_wechat_app(fake)
    app.add_routes(demo_routes(fake))
    app.add_routes(fault_routes(fake))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_stack_wechat(), host="127.0.0.1", port=args.port, access_log=None)


if __name__ == "__main__":
    main()
