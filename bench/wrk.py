"""Load with wrk: the prepared requests become a Lua data file for bench/wrk_requests.lua.

wrk takes whole seconds, so durations are rounded (at least 1 s); the report keeps the time wrk
actually measured. wrk uses one thread per core (never more than connections). The warm-up is a
wrk run of its own; the measured run starts each thread where the warm-up left it in its share.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.load import LoadResult, LoadSettings, count_errors
from bench.prepared import Request, read_requests
from bench.processes import run_captured

SCRIPT = Path(__file__).with_name("wrk_requests.lua")
RESULT_MARK = "WXBENCH "
LUA_CHUNK = 2000


def lua_string(value: str | bytes) -> str:
    """A Lua string literal: safe characters as they are, every other byte as a \\ddd escape."""
    raw = value.encode() if isinstance(value, str) else value
    out = []
    for byte in raw:
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in " /-_.:=+,;?&%@!*()[]{}<>~^|#$'"):
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_requests(requests: list[Request]) -> str:
    """A Lua chunk returning the requests as {method, path, headers, body} lists.

    Lua allows at most 65,536 constants per function, and each request brings a few of its own
    (path, token, body), so the list is built by one small function per `LUA_CHUNK` requests.
    """
    lines = ["local data = {}", "local function put(list)"]
    lines.append("  for _, entry in ipairs(list) do data[#data + 1] = entry end")
    lines.append("end")
    for start in range(0, len(requests), LUA_CHUNK):
        lines.append("put((function() return {")
        for request in requests[start : start + LUA_CHUNK]:
            headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in request.headers)
            lines.append(
                f"  {{{lua_string(request.method)}, {lua_string(request.path)}, "
                f"{{{headers}}}, {lua_string(request.body)}}},"
            )
        lines.append("} end)())")
    lines.append("return data")
    return "\n".join(lines) + "\n"


def wrk_threads(connections: int) -> int:
    return max(1, min(connections, os.cpu_count() or 1))


def wrk_seconds(seconds: float) -> int:
    return max(1, round(seconds))


async def _wrk(
    settings: LoadSettings, data_file: Path, seconds: float, starts: list[int] | None = None
) -> dict[str, Any]:
    """One wrk run; its result line as a dict."""
    threads = wrk_threads(settings.connections)
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={settings.connections}",
        f"--duration={wrk_seconds(seconds)}s",
        f"--timeout={wrk_seconds(settings.timeout)}s",
        f"--script={SCRIPT}",
        settings.base_url + "/",
        "--",
        str(data_file),
        str(threads),
    ]
    if starts:
        command.append(",".join(str(n) for n in starts))
    out = await run_captured(command, cwd=data_file.parent)
    line = next((x for x in out.splitlines() if x.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    data: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARK))
    return data


async def run_wrk(settings: LoadSettings) -> LoadResult:
    data_file = settings.requests_file.with_suffix(".wrk.lua")
    if not data_file.exists():  # the same for every target of the run
        data_file.write_text(lua_requests(read_requests(settings.requests_file)), encoding="utf-8")
    starts = None
    if settings.warmup > 0:
        starts = (await _wrk(settings, data_file, settings.warmup))["positions"]
    if settings.meter:
        settings.meter.start()
    data = await _wrk(settings, data_file, settings.duration, starts)
    cpu = settings.meter.stop() if settings.meter else {}
    failures = {kind: data[kind] for kind in ("connect", "read", "write", "timeout") if data[kind]}
    statuses = {str(code): n for code, n in data["statuses"].items()}
    return LoadResult(
        generator="wrk",
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=count_errors(statuses, failures, settings.ok_statuses),
        statuses=statuses,
        failures=failures,
        repeated=data["repeated"],
        cpu_seconds=cpu,
    )
