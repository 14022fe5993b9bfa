"""Progress lines on stderr while a run seeds and measures (silenced for the smoke test)."""

from __future__ import annotations

import sys
import time

_state = {"on": True, "started": time.perf_counter()}


def enable(on: bool) -> None:
    _state["on"] = on
    _state["started"] = time.perf_counter()


def say(message: str) -> None:
    """One progress line with the seconds since the run started."""
    if _state["on"]:
        elapsed = time.perf_counter() - float(_state["started"])
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)
