"""The measured process: `python -m bench.jobs.child` runs one job and prints its figures.

It reads the request (service settings, job name, parameters) as JSON on stdin, opens the
service's resources the way `wxmember` does (`wxmember.runner.running_services`), runs the job and
prints one JSON line on stdout. Nothing else runs in this process. Once the service is up the
high-water mark of resident memory is reset, so `job_peak_rss_kib` (ru_maxrss after the job) is
the peak while the job ran, the service's baseline included; start-up's own peak is reported
beside it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import tracemalloc
from typing import Any

from bench.jobs.child_jobs import JOBS
from bench.jobs.probe import RssSampler, memory_kib, reset_peak
from wxmember.core import keys
from wxmember.core.config import build_config
from wxmember.runner import running_services


async def run(request: dict[str, Any]) -> dict[str, Any]:
    config = build_config(request["settings"])
    job = JOBS[request["job"]]
    async with running_services(config) as app:
        services = app[keys.SERVICES]
        before = memory_kib()
        reset = reset_peak()
        trace = bool(request.get("tracemalloc"))
        if trace:
            tracemalloc.start()
        sampler = RssSampler()
        sampler.start()
        started = time.perf_counter()
        result = await job(services, request["params"])
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss = await sampler.stop()
        traced = tracemalloc.get_traced_memory()[1] if trace else None
        tracemalloc.stop()
    return {
        "seconds": round(seconds, 4),
        "result": result,
        "rss_before_job_kib": before["rss"],
        "startup_peak_rss_kib": before["hwm"],
        "job_peak_rss_kib": peak if reset else None,
        "rss_timeline": rss,
        "tracemalloc_peak_kib": None if traced is None else traced // 1024,
    }


def main() -> int:
    request = json.load(sys.stdin)
    outcome = asyncio.run(run(request))
    print(json.dumps(outcome, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
