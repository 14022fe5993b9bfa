"""One benchmark run: seed, then load the bare aiohttp baseline and the service the same way.

Order of a run: start the fake WeChat; create the database and run `wxmember migrate` on it;
seed it through the scenario's setup; write the prepared requests; start the baseline, load it,
stop it; the same for any comparison server the scenario names; start `wxmember serve`, load it,
stop it; run the scenario's check on the database; write the report. The targets run one after
the other, never together, with the same generator, connections, warm-up and duration.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench.cpu import CpuMeter
from bench.database import flush_redis, postgres_version, recreate_postgres
from bench.load import (
    REPO_ROOT,
    GeneratorName,
    LoadResult,
    LoadSettings,
    choose_generator,
    run_load,
)
from bench.machine import machine_info
from bench.prepared import Request, write_requests
from bench.prime import prime
from bench.probe import PROBE_IDLE_SECONDS, probe_for, probe_until
from bench.processes import free_port, run_captured, running_server
from bench.registry import CheckFailed, Scenario, SetupContext, Target
from bench.report import Report, Row, write_report
from bench.scenarios import get_scenario  # importing the package registers every scenario
from bench.service import (
    baseline_command,
    empty_config_file,
    fake_wechat_server,
    gunicorn_command,
    serve_command,
    service_config,
    service_environment,
    wxmember_command,
)
from wxmember.core.config import Config
from wxmember.core.db import open_database

Backend = Literal["sqlite", "postgres"]
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:55432/wxmember_bench"
DEFAULT_POSTGRES_REDIS_URL = "redis://127.0.0.1:56379/15"
DEFAULT_REPORTS_DIR = Path(__file__).resolve().parent / "reports"
BASELINE_TARGET = "bare aiohttp"
BASELINE_OK = frozenset({200})


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    backend: Backend = "sqlite"
    connections: int = 64
    duration: float = 10.0
    warmup: float = 2.0
    database_url: str = ""  # postgres only; empty means DEFAULT_POSTGRES_URL
    redis_url: str | None = None  # None: in-process stand-in on sqlite, the bench db on postgres
    flush_redis: bool = False  # flush a given redis_url too (the default one always is)
    generator: str = "auto"
    reports_dir: Path = DEFAULT_REPORTS_DIR
    command: str = ""
    progress: bool = True
    requests: int | None = None  # a request-count run (Python generator, no warm-up)
    service_env: tuple[tuple[str, str], ...] = ()  # WXMEMBER_* settings of the service
    workers: int | None = None  # gunicorn with this many workers; None: one `wxmember serve`

    def resolved_redis_url(self) -> str:
        if self.redis_url is not None:
            return self.redis_url
        return DEFAULT_POSTGRES_REDIS_URL if self.backend == "postgres" else ""

    @property
    def effective_warmup(self) -> float:
        return 0.0 if self.requests is not None else self.warmup


@dataclass(frozen=True)
class Outcome:
    report: Report
    files: tuple[Path, Path]
    failed_check: str | None = None


@asynccontextmanager
async def _database(config: Config) -> AsyncIterator[None]:
    """Tortoise open on the run's database, in this process (the setup and the check).

    Tortoise caches each model's INSERT statement by connection name, not by dialect: a process
    that opens SQLite and then PostgreSQL (the test suite does) would send `?` placeholders to
    PostgreSQL. The cache is emptied on the way in and out.
    """
    EXECUTOR_CACHE.clear()
    try:
        async with open_database(config):
            yield
    finally:
        EXECUTOR_CACHE.clear()


def _say(options: RunOptions, message: str) -> None:
    if options.progress:
        print(f"bench: {message}", file=sys.stderr, flush=True)


async def prepare_database(options: RunOptions, workdir: Path) -> tuple[str, list[str]]:
    """The database URL of this run, recreated empty; notes for the report."""
    notes: list[str] = []
    if options.backend == "sqlite":
        url = f"sqlite://{workdir / 'bench.db'}"
    else:
        url = options.database_url or DEFAULT_POSTGRES_URL
        await recreate_postgres(url)
        notes.append(f"PostgreSQL {await postgres_version(url)}")
    redis_url = options.resolved_redis_url()
    if not redis_url:
        return url, notes
    if options.redis_url is None or options.flush_redis:
        await flush_redis(redis_url)
        notes.append(f"Redis database {redis_url} flushed before the run")
    else:
        notes.append(f"Redis database {redis_url} not flushed: keys of earlier runs stay")
    return url, notes


async def _seed(
    options: RunOptions, scenario: Scenario, env: dict[str, str], config_file: Path
) -> tuple[list[Request], SetupContext]:
    """Migrate with the service's command, then run the setup."""
    await run_captured(wxmember_command(config_file, "migrate"), cwd=config_file.parent, env=env)
    config = service_config(env, config_file)
    ctx = SetupContext(
        config,
        options.connections,
        options.duration,
        warmup=options.effective_warmup,
        requests=options.requests,
    )
    async with _database(config):
        requests = await scenario.setup(ctx)
    if not requests:
        raise ValueError(f"scenario {scenario.name} prepared no requests")
    return requests, ctx


async def _check(scenario: Scenario, ctx: SetupContext, result: LoadResult) -> str | None:
    """Run the scenario's check on the database after the load; the failure, if any."""
    if scenario.check is None:
        return None
    ctx.facts["service_result"] = result
    async with _database(ctx.config):
        try:
            ctx.notes.extend(await scenario.check(ctx))
        except CheckFailed as exc:
            ctx.notes.append(f"CHECK FAILED: {exc}")
            return str(exc)
    return None


async def _load_target(
    target: Target,
    *,
    is_service: bool = False,
    postgres: bool,
    redis: bool,
    scenario: Scenario,
    generator: GeneratorName,
    settings: Callable[..., LoadSettings],
    env: dict[str, str],
    workdir: Path,
    requests: list[Request],
    notes: list[str],
) -> LoadResult:
    """Start one target, prime it if the scenario asks, load it, stop it."""
    port = free_port()
    async with running_server(
        target.name,
        target.command(port),
        port=port,
        cwd=target.cwd,
        env={**env, **target.env},
        log_file=workdir / f"server-{port}.log",
        ready_path="/readyz" if is_service else None,
    ) as server:
        if scenario.prime:
            notes.append(
                f"{target.name}: priming pass answered {await prime(server.url, requests)}"
            )
        # the stand-ins answer 200 to everything: only the service has the scenario's statuses
        ok = scenario.ok_statuses if is_service else BASELINE_OK
        # the database's and Redis's CPU is the service's to answer for: the stand-ins use none
        meter = CpuMeter(server.pid, database=is_service and postgres, redis=is_service and redis)
        load = run_load(generator, settings(base_url=server.url, ok_statuses=ok, meter=meter))
        if scenario.probe is None:
            result = await load
        else:
            result = await _probed(target.name, server.url + scenario.probe, load, notes)
    if server.exit_code != 0:
        notes.append(f"{target.name} exited with status {server.exit_code} when stopped")
    if is_service and scenario.once and result.repeated:
        notes.append(
            f"{target.name}: {result.repeated} requests went round the list again (a "
            f"connection's share of the {len(requests)} prepared ran out): those repeated "
            "an earlier request"
        )
    return result


async def _probed(
    name: str, url: str, load: Coroutine[Any, Any, LoadResult], notes: list[str]
) -> LoadResult:
    """Run the load with the probe beside it, after a probe of the idle server."""
    idle = await probe_for(url, PROBE_IDLE_SECONDS)
    stop = asyncio.Event()
    probing = asyncio.create_task(probe_until(url, stop))
    try:
        result = await load
    finally:
        stop.set()
        loaded = await probing
    path = url.split("/", 3)[-1]
    notes.append(
        f"{name}: /{path} one at a time, idle: {idle.describe()}; "
        f"during the load: {loaded.describe()}"
    )
    return result


def _service_target(options: RunOptions, config_file: Path, workdir: Path) -> Target:
    """One `wxmember serve` process, or gunicorn's workers as in production (`--workers`)."""
    if options.workers is None:
        return Target(f"wxmember/{options.backend}", partial(serve_command, config_file), workdir)
    return Target(
        f"wxmember/{options.backend} ×{options.workers} gunicorn",
        partial(gunicorn_command, options.workers),
        workdir,
        {"WXMEMBER_CONFIG": str(config_file)},
    )


async def run_benchmark(options: RunOptions) -> Outcome:
    """Run one scenario against the baseline and the service; write and return the report."""
    scenario = get_scenario(options.scenario)
    generator = choose_generator(options.generator, counted=options.requests is not None)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info(generator)
    with tempfile.TemporaryDirectory(prefix="wxmember-bench-") as tmp:
        workdir = Path(tmp)
        async with fake_wechat_server() as (_fake, api_base):
            database_url, notes = await prepare_database(options, workdir)
            env = service_environment(database_url, options.resolved_redis_url(), api_base)
            env.update(options.service_env)
            config_file = empty_config_file(workdir)
            _say(options, f"seeding {scenario.name} on {options.backend}")
            requests, ctx = await _seed(options, scenario, env, config_file)
            requests_file = workdir / "requests.json"
            write_requests(requests_file, requests)
            load = partial(
                _load_target,
                postgres=options.backend == "postgres",
                redis=bool(options.resolved_redis_url()),
                scenario=scenario,
                generator=generator,
                settings=partial(
                    LoadSettings,
                    requests_file=requests_file,
                    connections=options.connections,
                    duration=options.duration,
                    warmup=options.effective_warmup,
                    requests=options.requests,
                ),
                env=env,
                workdir=workdir,
                requests=requests,
                notes=notes,
            )
            service = _service_target(options, config_file, workdir)
            baseline = Target(BASELINE_TARGET, baseline_command, REPO_ROOT)
            others = scenario.targets(ctx) if scenario.targets else []
            rows: list[Row] = []
            for target in (baseline, *others, service):
                _say(options, f"loading {target.name} with {generator}")
                rows.append(Row(target.name, await load(target, is_service=target is service)))
            failed = await _check(scenario, ctx, rows[-1].result)
    report = Report(
        scenario=scenario.name,
        backend=options.backend,
        command=options.command or f"python -m bench run {scenario.name}",
        started_at=started_at,
        settings={
            "connections": options.connections,
            **(
                {"requests (count run)": options.requests}
                if options.requests is not None
                else {"duration s": options.duration, "warm-up s": options.effective_warmup}
            ),
            "workers": options.workers or 1,
            "server": "gunicorn" if options.workers else "wxmember serve",
            "generator": generator,
            "prepared requests": len(requests),
            "success statuses": sorted(scenario.ok_statuses),
            "redis": options.resolved_redis_url() or "in-process stand-in",
            "service settings": dict(options.service_env) or "defaults",
        },
        machine=machine,
        rows=rows,
        notes=[*notes, *ctx.notes],
    )
    files = write_report(report, options.reports_dir)
    return Outcome(report=report, files=files, failed_check=failed)
