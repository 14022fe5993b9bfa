"""Entry point for gunicorn's aiohttp worker in production.

    gunicorn 'wxmember.serving:app' --worker-class aiohttp.GunicornUVLoopWebWorker --workers 4

Configuration comes from `$WXMEMBER_CONFIG` (a TOML path) and `WXMEMBER_*` variables. Workers
never run the scheduler: run exactly one `wxmember scheduler` beside them. The HTTP limits of
`[server]` come with the app (`create_app`, wxmember/core/httplimits.py) and take the place of
gunicorn's `--keep-alive` and request limits, which aiohttp's worker does not use.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from wxmember.app import create_app
from wxmember.core.config import ensure_local_keys, load_config
from wxmember.core.log import setup_logging


async def app() -> web.Application:
    """Build the service for one gunicorn worker process."""
    setup_logging("INFO")
    config = ensure_local_keys(load_config())
    return create_app(config.replace(scheduler={"enabled": False}))


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (Linux, macOS), else asyncio's: the loop's
    own work (sockets, timers, callbacks) costs several times less in uvloop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
