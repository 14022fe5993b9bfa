"""One benchmark run: fresh database, seed, plans, the job in its own process, checks, report."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg

from bench.jobs import (
    birthdays,
    dashboard,
    facts,
    member_import,
    points_expiry,
    progress,
    rfm,
    segments,
    tiers,
)
from bench.jobs.bulk import Loader, finish_tables, table_rows
from bench.jobs.context import Context, Prepared, Sizes
from bench.jobs.ladder import seed_ladder
from bench.jobs.progress import say
from bench.jobs.report import write_report
from bench.jobs.setup import (
    RunSettings,
    config_settings,
    database_name,
    fresh_schema,
    set_plan_cache_mode,
)
from bench.jobs.spawn import run_job
from wxmember.core.db import open_database

BENCHMARKS: dict[str, ModuleType] = {
    "tiers": tiers,
    "birthdays": birthdays,
    "points-expiry": points_expiry,
    "dashboard": dashboard,
    "segments": segments,
    "rfm": rfm,
    "member-import": member_import,
}


@dataclass(frozen=True)
class Outcome:
    """A finished run: its report and where the files are."""

    report: dict[str, Any]
    files: tuple[Path, Path]


async def _seed(ctx: Context, bench: ModuleType, sizes: Sizes) -> tuple[Prepared, dict[str, Any]]:
    started = time.perf_counter()
    prepared: Prepared = await bench.prepare(ctx, sizes)
    copy_seconds = time.perf_counter() - started
    say("seeded; moving sequences and analysing")
    analyse_seconds = await finish_tables(ctx.conn, prepared.tables)
    seeding = {
        "seed_seconds": round(copy_seconds, 2),
        "vacuum_analyze_seconds": round(analyse_seconds, 2),
        "copy_seconds_by_table": {t: round(s, 2) for t, s in ctx.loader.seconds.items()},
        "rows": await table_rows(ctx.conn, prepared.tables),
    }
    return prepared, seeding


async def run_benchmark(name: str, sizes: Sizes, run: RunSettings) -> Outcome:
    """Run benchmark `name` and write its report."""
    bench = BENCHMARKS[name]
    database_name(run.database_url)
    progress.enable(run.progress)
    started_at = datetime.now(UTC).replace(microsecond=0)
    load_at_start = facts.load_average()
    settings = config_settings(run.database_url, run.redis_url)
    say(f"{name}: fresh database, migrations")
    config, schema_seconds = await fresh_schema(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    async with open_database(config):
        conn = await asyncpg.connect(run.database_url)
        try:
            ladder = await seed_ladder(config)
            today = now.astimezone(config.brand.tz).date()
            rng = random.Random(run.random_seed)
            ctx = Context(run, settings, config, conn, Loader(conn), rng, now, today, ladder)
            say(f"{name}: seeding")
            prepared, seeding = await _seed(ctx, bench, sizes)
            seeding["schema_seconds"] = round(schema_seconds, 2)
            prepared.plans.extend(await bench.plans(ctx, prepared, "before"))
            await set_plan_cache_mode(conn, run.database_url, run.plan_cache_mode)
            load_at_job = facts.load_average()
            say(f"{name}: running the job in its own process (load {load_at_job})")
            job = await run_job(name, settings, prepared.params, run.tracemalloc)
            say(f"{name}: job done in {job['seconds']:.2f} s; checking")
            checks = await bench.verify(ctx, prepared, job)
            prepared.plans.extend(await bench.plans(ctx, prepared, "after"))
            server = await facts.postgres(conn)
        finally:
            await conn.close()
    run_parameters = {
        "random_seed": str(run.random_seed),
        "job_plan_cache_mode": run.plan_cache_mode or "server",
    }
    report = {
        "benchmark": name,
        "started_at": started_at.isoformat(),
        "command": run.command,
        "parameters": prepared.parameters | run_parameters,
        "sizes": {k: (str(v) if v is not None else None) for k, v in asdict(sizes).items()},
        "seeding": seeding,
        "seeded": prepared.seeded,
        "job": job,
        "headline": bench.headline(prepared, job),
        "verification": {"ok": all(c["ok"] for c in checks.values()), "checks": checks},
        "plans": prepared.plans,
        "load_average": {
            "start": load_at_start,
            "job start": load_at_job,
            "end": facts.load_average(),
        },
        "machine": facts.machine(),
        "postgres": server,
        "tracemalloc": run.tracemalloc,
        "notes": prepared.notes,
    }
    files = write_report(report, run.reports_dir)
    return Outcome(report, files)
