"""The job benchmarks at a tiny size: each runs end to end on PostgreSQL, its checks pass and its
report carries every figure. The command line refuses a database that is not a benchmark's own.

No figure is judged: these only show that the benchmarks work.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.jobs.cli import main
from bench.jobs.context import Sizes
from bench.jobs.runner import run_benchmark
from bench.jobs.setup import RunSettings, database_name
from tests.support.settings import PG_URL, REDIS_URL, requires_postgres

JOB_FIELDS = (
    "seconds",
    "result",
    "rss_before_job_kib",
    "startup_peak_rss_kib",
    "job_peak_rss_kib",
    "rss_timeline",
    "tracemalloc_peak_kib",
)
PROCESS_FIELDS = ("peak_rss_kib", "user_seconds", "system_seconds", "wall_seconds_with_startup")
SEEDING_FIELDS = ("schema_seconds", "seed_seconds", "vacuum_analyze_seconds", "rows")


async def _run(name: str, tmp_path: Path, sizes: Sizes) -> dict[str, Any]:
    run = RunSettings(
        database_url=PG_URL.split("?")[0] + "_jobs_bench",
        redis_url=REDIS_URL,
        reports_dir=tmp_path,
        progress=False,
        command=f"smoke {name}",
    )
    outcome = await run_benchmark(name, sizes, run)
    markdown, data = outcome.files
    assert markdown.read_text(encoding="utf-8").startswith(f"# Job benchmark `{name}`")
    report: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    assert report["verification"]["ok"], report["verification"]["checks"]
    assert all(field in report["job"] for field in JOB_FIELDS)
    assert all(field in report["job"]["process"] for field in PROCESS_FIELDS)
    assert all(field in report["seeding"] for field in SEEDING_FIELDS)
    assert report["job"]["job_peak_rss_kib"] > 0
    assert set(report["load_average"]) == {"start", "job start", "end"}
    assert report["plans"]
    for plan in report["plans"]:
        assert plan["custom"] and plan["generic"] and plan["after_warmup"]
    return report


class TestTiers:
    @requires_postgres
    async def test_evaluates_the_closed_year(self, tmp_path: Path) -> None:
        report = await _run("tiers", tmp_path, Sizes(members=200))
        evaluation = report["job"]["result"]["report"]
        assert evaluation["status"] == "finished"
        assert evaluation["downgraded"] == report["seeded"]["expected_downgrades"] > 0
        assert report["headline"]["members"] == report["seeding"]["rows"]["members"] == 200


class TestBirthdays:
    @requires_postgres
    async def test_claims_the_days_birthdays_once(self, tmp_path: Path) -> None:
        # 28 Feb of a common year also celebrates those born on 29 Feb.
        sizes = Sizes(members=2000, day=date(2027, 2, 28))
        report = await _run("birthdays", tmp_path, sizes)
        result = report["job"]["result"]
        assert result["claimed"] == report["seeded"]["celebrating"] > 0
        assert result["claimed_again"] == 0
        assert "Bitmap Index Scan on idx_members_birth" in report["plans"][0]["custom"]


class TestPointsExpiry:
    @requires_postgres
    async def test_expires_every_due_lot(self, tmp_path: Path) -> None:
        report = await _run("points-expiry", tmp_path, Sizes(members=200, lots=1000))
        assert report["seeding"]["rows"]["points_lots"] == 1000
        assert report["job"]["result"]["expired_lots"] == report["headline"]["expired_lots"] > 0


class TestDashboard:
    @requires_postgres
    async def test_stores_every_day_and_reads_the_periods(self, tmp_path: Path) -> None:
        sizes = Sizes(members=300, ledger=3000, history_days=20, repeats=1)
        report = await _run("dashboard", tmp_path, sizes)
        result = report["job"]["result"]
        assert result["backfill"]["stored"] == report["headline"]["days_stored"] == 20
        assert result["again"]["stored"] == 0
        assert report["seeding"]["rows"]["members"] == result["today"]["members"] == 300
        assert set(result["reads"]) == {"today", "page_30", "page_90", "charts_90"}


class TestSegments:
    @requires_postgres
    async def test_counts_each_filter_and_checks_two_against_the_seeded_rows(
        self, tmp_path: Path
    ) -> None:
        report = await _run("segments", tmp_path, Sizes(members=2000, repeats=1))
        result = report["job"]["result"]
        assert set(result["counts"]) == set(report["parameters"]["filters"])
        assert report["seeding"]["rows"]["members"] == 2000
        assert all(count >= 0 for count in result["counts"].values())
        assert len(report["plans"]) == len(result["counts"])


class TestRfm:
    @requires_postgres
    async def test_scores_the_day_once_and_a_resumed_run_ends_where_one_run_does(
        self, tmp_path: Path
    ) -> None:
        report = await _run("rfm", tmp_path, Sizes(members=2000, batch_size=100))
        result = report["job"]["result"]
        holders = report["seeded"]["card holders of the day"]
        assert result["first"]["status"] == "finished"
        assert result["first"]["scored"] == holders == report["headline"]["card holders scored"]
        assert result["again"]["status"] == "already_finished"
        assert result["again_rewrote_rows"] is False
        assert result["stopped"]["status"] == "stopped"
        assert result["resumed"]["resumed_from"] == result["stopped_cursor"] > 0
        assert report["parameters"]["sample"] == 200
        assert report["seeding"]["rows"]["pos_purchase_refunds"] > 0


class TestCommandLine:
    @pytest.mark.parametrize("name", ["postgres", "template1", "template0", ""])
    def test_refuses_a_shared_database(self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        url = f"postgres://postgres@127.0.0.1:1/{name}"
        assert main(["run", "tiers", "--database-url", url, "--quiet"]) == 2
        assert "database of its own" in capsys.readouterr().err

    def test_names_its_own_database(self) -> None:
        assert database_name("postgres://u@h:5432/wxmember_jobs_bench?x=1") == "wxmember_jobs_bench"

    def test_lists_the_benchmarks(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["list"]) == 0
        lines = capsys.readouterr().out.splitlines()
        names = [line.split()[0] for line in lines]
        assert names == [
            "tiers",
            "birthdays",
            "points-expiry",
            "dashboard",
            "segments",
            "rfm",
            "member-import",
        ]


class TestMemberImport:
    @requires_postgres
    async def test_imports_the_file_then_finds_every_row_unchanged(self, tmp_path: Path) -> None:
        report = await _run("member-import", tmp_path, Sizes(members=300, batch_size=100))
        result = report["job"]["result"]
        assert (result["first"]["created"], result["first"]["refused"]) == (297, 3)
        assert (result["again"]["created"], result["again"]["unchanged"]) == (0, 297)
        assert report["headline"]["rows"] == 300
