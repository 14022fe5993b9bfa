"""One benchmark run: seed, then load the bare aiohttp baseline and the service the same way.

Order of a run: start the fake WeChat; create the database and run `wxmember migrate` on it;
seed it through the scenario's setup; write the prepared requests; start the baseline, load it,
stop it; start `wxmember serve`, load it, stop it; write the report. The two targets run one after
the other, never together, with the same generator, connections, warm-up and duration.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Literal

from bench.database import complete_schema, flush_redis, postgres_version, recreate_postgres
from bench.load import REPO_ROOT, LoadSettings, choose_generator, run_load
from bench.machine import machine_info
from bench.prepared import Request, write_requests
from bench.processes import free_port, run_captured, running_server
from bench.report import Report, Row, write_report
from bench.scenarios import Scenario, SetupContext, get_scenario
from bench.service import (
    baseline_command,
    empty_config_file,
    fake_wechat_server,
    serve_command,
    service_config,
    service_environment,
    wxmember_command,
)
from wxmember.db import open_database

Backend = Literal["sqlite", "postgres"]
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:55432/wxmember_bench"
DEFAULT_POSTGRES_REDIS_URL = "redis://127.0.0.1:56379/15"
DEFAULT_REPORTS_DIR = Path(__file__).resolve().parent / "reports"
BASELINE_TARGET = "bare aiohttp"


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    backend: Backend = "sqlite"
    connections: int = 64
    duration: float = 10.0
    warmup: float = 2.0
    database_url: str = ""  # postgres only; empty means DEFAULT_POSTGRES_URL
    redis_url: str | None = None  # None: in-process stand-in on sqlite, the bench db on postgres
    generator: str = "auto"
    reports_dir: Path = DEFAULT_REPORTS_DIR
    command: str = ""
    progress: bool = True

    def resolved_redis_url(self) -> str:
        if self.redis_url is not None:
            return self.redis_url
        return DEFAULT_POSTGRES_REDIS_URL if self.backend == "postgres" else ""


@dataclass(frozen=True)
class Outcome:
    report: Report
    files: tuple[Path, Path]


def _say(options: RunOptions, message: str) -> None:
    if options.progress:
        print(f"bench: {message}", file=sys.stderr, flush=True)


async def _prepare_database(options: RunOptions, workdir: Path) -> tuple[str, list[str]]:
    """The database URL of this run, recreated empty; notes for the report."""
    if options.backend == "sqlite":
        return f"sqlite://{workdir / 'bench.db'}", []
    url = options.database_url or DEFAULT_POSTGRES_URL
    await recreate_postgres(url)
    notes = [f"PostgreSQL {await postgres_version(url)}"]
    redis_url = options.resolved_redis_url()
    if options.redis_url is None:
        await flush_redis(redis_url)
        notes.append(f"Redis database {redis_url} flushed before the run")
    return url, notes


async def _seed(
    options: RunOptions, scenario: Scenario, env: dict[str, str], config_file: Path
) -> tuple[list[Request], str]:
    """Migrate with the service's command, complete the schema if needed, run the setup."""
    await run_captured(wxmember_command(config_file, "migrate"), cwd=config_file.parent, env=env)
    config = service_config(env, config_file)
    async with open_database(config):
        schema = await complete_schema(config)
        ctx = SetupContext(config, options.connections, options.duration)
        requests = await scenario.setup(ctx)
    if not requests:
        raise ValueError(f"scenario {scenario.name} prepared no requests")
    return requests, schema


async def run_benchmark(options: RunOptions) -> Outcome:
    """Run one scenario against the baseline and the service; write and return the report."""
    scenario = get_scenario(options.scenario)
    generator = choose_generator(options.generator)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info(generator)
    with tempfile.TemporaryDirectory(prefix="wxmember-bench-") as tmp:
        workdir = Path(tmp)
        async with fake_wechat_server() as (_fake, api_base):
            database_url, notes = await _prepare_database(options, workdir)
            env = service_environment(database_url, options.resolved_redis_url(), api_base)
            config_file = empty_config_file(workdir)
            _say(options, f"seeding {scenario.name} on {options.backend}")
            requests, schema = await _seed(options, scenario, env, config_file)
            notes.append(f"schema built by {schema}")
            requests_file = workdir / "requests.json"
            write_requests(requests_file, requests)

            def settings(url: str) -> LoadSettings:
                return LoadSettings(
                    base_url=url,
                    requests_file=requests_file,
                    connections=options.connections,
                    duration=options.duration,
                    warmup=options.warmup,
                    ok_statuses=scenario.ok_statuses,
                )

            rows: list[Row] = []
            service = partial(serve_command, config_file)
            for target, command, cwd, ready_path in (
                (BASELINE_TARGET, baseline_command, REPO_ROOT, None),
                (f"wxmember/{options.backend}", service, workdir, "/readyz"),
            ):
                _say(options, f"loading {target} with {generator}")
                port = free_port()
                async with running_server(
                    target,
                    command(port),
                    port=port,
                    cwd=cwd,
                    env=env,
                    log_file=workdir / f"server-{port}.log",
                    ready_path=ready_path,
                ) as server:
                    rows.append(Row(target, await run_load(generator, settings(server.url))))
                if server.exit_code != 0:
                    notes.append(f"{target} exited with status {server.exit_code} when stopped")
    report = Report(
        scenario=scenario.name,
        backend=options.backend,
        command=options.command or f"python -m bench run {scenario.name}",
        started_at=started_at,
        settings={
            "connections": options.connections,
            "duration s": options.duration,
            "warm-up s": options.warmup,
            "workers": 1,
            "generator": generator,
            "prepared requests": len(requests),
            "success statuses": sorted(scenario.ok_statuses),
            "redis": options.resolved_redis_url() or "in-process stand-in",
        },
        machine=machine,
        rows=rows,
        notes=notes,
    )
    files = write_report(report, options.reports_dir)
    return Outcome(report=report, files=files)
