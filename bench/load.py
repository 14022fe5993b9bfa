"""Load generation: settings in, a `LoadResult` out, from wrk or the built-in Python generator.

Both generators run in a process of their own, keep `connections` connections busy for `warmup`
seconds (discarded) and then for `duration` seconds (measured), and spread the prepared requests
over the connections the same way; the measured part goes on where the warm-up stopped in each
connection's share, so requests meant to be sent once are not sent again. wrk is preferred: the
Python generator costs far more CPU per request and, on a small machine, competes with the
server it measures. A request-count run (`requests`: send exactly that many, no warm-up, time
until the last answer) is the Python generator's only.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.cpu import CpuMeter
from bench.processes import run_captured

GeneratorName = Literal["wrk", "python"]
GENERATOR_CHOICES = ("auto", "wrk", "python")
REPO_ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class LoadSettings:
    base_url: str
    requests_file: Path  # JSON list of bench.prepared.Request.to_json()
    connections: int
    duration: float
    warmup: float
    ok_statuses: frozenset[int]
    timeout: float = REQUEST_TIMEOUT_SECONDS
    requests: int | None = None  # a request-count run: exactly this many, then stop
    # read just before and after the measured part (not the warm-up)
    meter: CpuMeter | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LoadResult:
    """What one measured run did; `errors` counts failures and statuses outside the OK set."""

    generator: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    # requests sent (warm-up included) after a connection's share of the list ran out
    repeated: int = 0
    # CPU seconds each side spent on the measured requests (bench.cpu), where it was read
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms_per_request(self) -> dict[str, float]:
        if not self.requests:
            return {}
        return {side: 1000 * s / self.requests for side, s in self.cpu_seconds.items()}

    def to_json(self) -> dict[str, Any]:
        per_request = {side: round(ms, 3) for side, ms in self.cpu_ms_per_request().items()}
        return {**asdict(self), "rps": round(self.rps, 1), "cpu_ms_per_request": per_request}


def percentile(sorted_samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of samples sorted ascending; 0 for no samples."""
    if not sorted_samples:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


def count_errors(statuses: dict[str, int], failures: dict[str, int], ok: frozenset[int]) -> int:
    bad_statuses = sum(n for code, n in statuses.items() if int(code) not in ok)
    return bad_statuses + sum(failures.values())


def choose_generator(preference: str, counted: bool = False) -> GeneratorName:
    """`auto` means wrk when it is on the PATH, else the Python generator.

    A request-count run (`counted`) needs the Python generator: wrk only runs for a time.
    """
    if counted:
        if preference == "wrk":
            raise ValueError("--requests needs the Python generator; wrk runs for a duration")
        return "python"
    if preference == "python":
        return "python"
    if preference == "wrk" or shutil.which("wrk"):
        if not shutil.which("wrk"):
            raise RuntimeError("wrk is not installed (apt-get install wrk), use --generator python")
        return "wrk"
    return "python"


async def run_load(generator: GeneratorName, settings: LoadSettings) -> LoadResult:
    if generator == "wrk":
        from bench.wrk import run_wrk  # bench.wrk builds on this module's types

        return await run_wrk(settings)
    return await run_python_generator(settings)


async def run_python_generator(settings: LoadSettings) -> LoadResult:
    """Run `python -m bench.pyload` in its own process and read its JSON result."""
    job = {
        "base_url": settings.base_url,
        "requests_file": str(settings.requests_file),
        "connections": settings.connections,
        "duration": settings.duration,
        "warmup": settings.warmup,
        "timeout": settings.timeout,
        "requests": settings.requests,
        "cpu": settings.meter.to_json() if settings.meter else None,
    }
    job_file = settings.requests_file.with_suffix(".pyload.json")
    job_file.write_text(json.dumps(job), encoding="utf-8")
    out = await run_captured([sys.executable, "-m", "bench.pyload", str(job_file)], cwd=REPO_ROOT)
    data = json.loads(out)
    return LoadResult(
        generator="python",
        requests=data["requests"],
        seconds=data["seconds"],
        p50_ms=data["p50_ms"],
        p99_ms=data["p99_ms"],
        mean_ms=data["mean_ms"],
        max_ms=data["max_ms"],
        errors=count_errors(data["statuses"], data["failures"], settings.ok_statuses),
        statuses=data["statuses"],
        failures=data["failures"],
        repeated=data["repeated"],
        cpu_seconds=data["cpu_seconds"],
    )
