"""The WeChat push sub-application, mounted at `/wechat/`.

- `GET/POST /wechat/official`: the Official Account webhook (`bot.official`);
- `GET/POST /wechat/miniapp`: the mini-program message push (`bot.miniapp`).
"""

from __future__ import annotations

from aiohttp import web

from bot import miniapp, official
from bot.background import background_ctx, finish_background


def create_bot_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(background_ctx)
    app.on_shutdown.append(finish_background)
    official.setup(app)
    miniapp.setup(app)
    return app
