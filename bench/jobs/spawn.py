"""Running the measured job in a process of its own and collecting its figures and memory.

The job runs in `bench.jobs.child`, started through the small `bench.jobs.launch` so that its
`ru_maxrss` does not inherit this process's size (see launch.py). The child resets its
high-water mark once the service is up, so its peak is the job's, start-up excluded; the whole
process's peak, start-up included, comes from `os.wait4` in the launcher.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class JobFailed(RuntimeError):
    """The job process exited with an error or printed no figures."""


def _run_child(request: dict[str, Any]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXMEMBER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.jobs.launch"],
        cwd=ROOT,
        env=env,
        input=json.dumps(request).encode(),
        stdout=subprocess.PIPE,
        check=True,
    )
    wall = time.perf_counter() - started
    launched = json.loads(done.stdout)
    usage = launched["usage"]
    lines = launched["output"].strip().splitlines()
    if usage["exit_code"] != 0 or not lines:
        raise JobFailed(f"the {request['job']} job exited with {usage['exit_code']}")
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["process"] = {
        "peak_rss_kib": usage["maxrss_kib"],
        "user_seconds": usage["user_seconds"],
        "system_seconds": usage["system_seconds"],
        "wall_seconds_with_startup": round(wall, 2),
    }
    return figures


async def run_job(
    job: str, settings: dict[str, Any], params: dict[str, Any], tracemalloc: bool
) -> dict[str, Any]:
    """Run one job in a fresh process; its figures, with the process's resource usage."""
    request = {"job": job, "settings": settings, "params": params, "tracemalloc": tracemalloc}
    return await asyncio.to_thread(_run_child, request)
