"""The same Official Account bot written with WeRoBot, served by gunicorn (a WSGI app).

Runs only in the separate environment `python -m bench setup-werobot` builds; the project does
not depend on WeRoBot. Every text gets one fixed reply; sessions are off (WeRoBot's default keeps
one in a SQLite file per follower). Settings come from the environment:
BENCH_WEROBOT_TOKEN, BENCH_WEROBOT_APPID, BENCH_WEROBOT_AES_KEY (empty: plaintext replies),
BENCH_WEROBOT_REPLY. `GET /healthz` answers 200.

    gunicorn --bind 127.0.0.1:8092 --workers 1 bench.werobot_app:app
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from werobot import WeRoBot

robot = WeRoBot(
    token=os.environ["BENCH_WEROBOT_TOKEN"],
    app_id=os.environ["BENCH_WEROBOT_APPID"],
    encoding_aes_key=os.environ.get("BENCH_WEROBOT_AES_KEY") or None,
    SESSION_STORAGE=False,
)
REPLY = os.environ["BENCH_WEROBOT_REPLY"]


@robot.text
def answer(message: Any) -> str:
    return REPLY


_webhook = robot.wsgi


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """WeRoBot's WSGI app, plus the health check the harness waits for."""
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    result: Iterable[bytes] = _webhook(environ, start_response)
    return result
