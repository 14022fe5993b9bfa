"""Entry point for gunicorn's aiohttp worker in production.

    gunicorn 'wxmember.serving:app' --worker-class aiohttp.GunicornUVLoopWebWorker --workers 4

Configuration comes from `$WXMEMBER_CONFIG` (a TOML path) and `WXMEMBER_*` variables. Workers
never run the scheduler: run exactly one `wxmember scheduler` beside them. The HTTP limits of
`[server]` come with the app (`create_app`, wxmember/core/httplimits.py) and take the place of
gunicorn's `--keep-alive` and request limits, which aiohttp's worker does not use.
"""

from __future__ import annotations

import asyncio
import gc

from aiohttp import web

from wxmember.app import create_app
from wxmember.core.config import ensure_local_keys, load_config
from wxmember.core.log import setup_logging

# How many objects the collector lets a process gain between two collections of its youngest
# generation (Python's default is 700). At 700 a read-heavy load set it off every few dozen
# requests, for 0.2-0.3 ms each, and it found next to nothing: what a request makes, reference
# counting frees.
YOUNG_GENERATION_THRESHOLD = 10_000


async def app() -> web.Application:
    """Build the service for one gunicorn worker process."""
    setup_logging("INFO")
    config = ensure_local_keys(load_config())
    return for_serving(create_app(config.replace(scheduler={"enabled": False})))


def for_serving(app: web.Application) -> web.Application:
    """The app as a long-running server runs it: its startup's heap settled once it has started."""
    app.on_startup.append(settle_startup_heap)
    return app


async def settle_startup_heap(app: web.Application) -> None:
    """Put what startup made out of the cyclic collector's reach, and collect young objects less
    often.

    A started service holds some 160,000 objects that live as long as it does (modules, models,
    routes, the OpenAPI document). Every full collection walked them all: 70-100 ms with the
    event loop stopped, once a second under load, which was the p99 of every read. Frozen, they
    are still freed by reference counting if ever dropped; only cycles among them would stay.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (Linux, macOS), else asyncio's: the loop's
    own work (sockets, timers, callbacks) costs several times less in uvloop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
