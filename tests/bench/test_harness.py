"""The benchmark harness: a one-second run of `healthz` on the real processes, a short run of a
once-only scenario (check-in) and of a request-count run, the command line, and the seeding
helpers scenarios are built from.

The runs check only that both targets were measured and answered; they never judge a figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from bench.cli import main
from bench.harness import Backend, RunOptions, prepare_database, run_benchmark
from bench.load import percentile
from bench.scenarios import SCENARIOS, SetupContext, member_requests
from bench.seed import member_token, seed_members
from handlers.members.numbers import is_card_number
from tests.support.http import bearer
from tests.support.settings import PG_URL, REDIS_URL, requires_postgres
from wxmember.core.config import Config


async def _run(
    tmp_path: Path,
    scenario: str = "healthz",
    backend: Backend = "sqlite",
    database_url: str = "",
    redis_url: str | None = None,
    warmup: float = 0.0,
    requests: int | None = None,
    workers: int | None = None,
) -> dict:
    options = RunOptions(
        scenario=scenario,
        backend=backend,
        connections=4,
        duration=1.0,
        warmup=warmup,
        database_url=database_url,
        redis_url=redis_url,
        generator="python",
        reports_dir=tmp_path,
        progress=False,
        requests=requests,
        workers=workers,
    )
    outcome = await run_benchmark(options)
    markdown, data = outcome.files
    assert markdown.exists()
    return json.loads(data.read_text(encoding="utf-8"))


def _assert_both_targets_answered(report: dict, service_target: str) -> None:
    results = {row["target"]: row for row in report["results"]}
    assert list(results) == ["bare aiohttp", service_target]
    for row in results.values():
        assert row["generator"] == "python"
        assert row["requests"] > 0
        assert row["errors"] == 0
        assert row["statuses"] == {"200": row["requests"]}
        assert row["cpu_ms_per_request"]["server"] > 0


class TestRun:
    async def test_healthz_on_sqlite(self, tmp_path: Path) -> None:
        report = await _run(tmp_path)

        _assert_both_targets_answered(report, "wxmember/sqlite")
        assert report["machine"]["cores"] >= 1
        assert report["settings"]["connections"] == 4

    @requires_postgres
    async def test_healthz_on_postgres(self, tmp_path: Path) -> None:
        database_url = PG_URL.split("?")[0] + "_bench"
        report = await _run(
            tmp_path, backend="postgres", database_url=database_url, redis_url=REDIS_URL
        )

        _assert_both_targets_answered(report, "wxmember/postgres")
        baseline, service = report["results"]
        assert set(baseline["cpu_ms_per_request"]) == {"server"}
        assert set(service["cpu_ms_per_request"]) == {"server", "database", "redis"}

    async def test_one_gunicorn_worker_on_sqlite(self, tmp_path: Path) -> None:
        report = await _run(tmp_path, workers=1)

        _assert_both_targets_answered(report, "wxmember/sqlite ×1 gunicorn")
        assert report["settings"]["workers"] == 1
        assert report["settings"]["server"] == "gunicorn"

    @requires_postgres
    async def test_two_gunicorn_workers_check_members_in_once_each(self, tmp_path: Path) -> None:
        database_url = PG_URL.split("?")[0] + "_bench"
        report = await _run(
            tmp_path,
            "checkin",
            backend="postgres",
            database_url=database_url,
            redis_url=REDIS_URL,
            workers=2,
        )

        service = report["results"][-1]
        assert service["target"] == "wxmember/postgres ×2 gunicorn"
        assert service["requests"] > 0
        assert service["statuses"] == {"201": service["requests"]}
        assert report["settings"]["workers"] == 2
        assert service["cpu_ms_per_request"]["server"] > 0
        assert service["cpu_ms_per_request"]["database"] > 0

    async def test_once_only_requests_are_not_sent_again_after_the_warm_up(
        self, tmp_path: Path
    ) -> None:
        report = await _run(tmp_path, "checkin", warmup=0.5)

        service = report["results"][-1]
        # a member checking in a second time would get 409 already_checked_in
        assert service["requests"] > 0
        assert service["statuses"] == {"201": service["requests"]}
        assert service["repeated"] == 0
        assert not any("round the list" in note for note in report["notes"])

    async def test_a_probed_scenario_reports_the_probe_idle_and_under_load(
        self, tmp_path: Path
    ) -> None:
        report = await _run(tmp_path, "card-image-uncached")
        probes = [note for note in report["notes"] if "/healthz one at a time" in note]
        assert [note.split(":")[0] for note in probes] == ["bare aiohttp", "wxmember/sqlite"]
        for note in probes:
            assert "idle: p50" in note and "during the load: p50" in note

    @pytest.mark.parametrize(
        "scenario",
        [
            "purchase",
            "redeem-hot",
            "redeem-spread",
            "coupon-centre",
            "claim-sold-out",
            "bot-text-points",
        ],
    )
    async def test_a_scenario_gets_only_its_success_answers(
        self, tmp_path: Path, scenario: str
    ) -> None:
        """A scenario whose requests the service refuses (a store it no longer knows, a field
        renamed) would measure refusals: it must get only the answers it counts as success."""
        report = await _run(tmp_path, scenario)

        service = report["results"][-1]
        assert service["requests"] > 0
        assert service["errors"] == 0, service["statuses"]

    async def test_a_request_count_run_sends_exactly_that_many(self, tmp_path: Path) -> None:
        report = await _run(tmp_path, requests=30, warmup=2.0)

        for row in report["results"]:
            assert row["statuses"] == {"200": 30}
        assert report["settings"]["requests (count run)"] == 30
        assert "warm-up s" not in report["settings"]


class TestCommandLine:
    def test_unknown_scenario_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["run", "no-such-scenario"]) == 2
        assert "unknown scenario" in capsys.readouterr().err

    def test_several_workers_need_postgres(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["run", "healthz", "--workers", "2"]) == 2
        assert "--backend postgres" in capsys.readouterr().err

    def test_settings_the_harness_owns_are_refused(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "healthz", "--env", "WXMEMBER_DATABASE_URL=sqlite://x.db"])

        assert exit_info.value.code == 2
        assert "set by the harness" in capsys.readouterr().err

    def test_wrk_cannot_count_requests(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["run", "healthz", "--requests", "10", "--generator", "wrk"]) == 2
        assert "Python generator" in capsys.readouterr().err

    def test_list_names_every_scenario(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["list"]) == 0
        names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
        assert names == sorted(SCENARIOS)
        assert "healthz" in names


@pytest.mark.usefixtures("client")  # the service's database, open
class TestSeeding:
    async def test_seeded_members_are_served_their_cards(
        self, client: TestClient, config: Config
    ) -> None:
        members = await seed_members(3)

        for member in members:
            token = member_token(config, member)
            response = await client.get("/api/v1/card", headers=bearer(token))
            assert response.status == 200, await response.text()
            card = await response.json()
            assert card["card_no"] == member.card_no
            assert is_card_number(card["card_no"])
        assert len({member.card_no for member in members}) == 3

    async def test_member_requests_carry_one_token_per_member(self, config: Config) -> None:
        ctx = SetupContext(config, connections=4, duration=1.0)
        requests = await member_requests(ctx, 5, "POST", "/api/v1/x", {"a": 1})

        assert len({request.headers for request in requests}) == 5
        assert all(request.body == b'{"a":1}' for request in requests)


@pytest.mark.skipif(not REDIS_URL, reason="needs WXMEMBER_TEST_REDIS_URL")
class TestRedisOfARun:
    @pytest.mark.parametrize("flush", [False, True])
    async def test_a_given_redis_is_flushed_only_when_asked_and_the_report_says_which(
        self, tmp_path: Path, flush: bool
    ) -> None:
        url = REDIS_URL.rsplit("/", 1)[0] + "/14"
        redis = Redis.from_url(url)
        try:
            await redis.set("left-by-an-earlier-run", "1")
            options = RunOptions(scenario="healthz", redis_url=url, flush_redis=flush)
            _, notes = await prepare_database(options, tmp_path)
            assert await redis.exists("left-by-an-earlier-run") == (0 if flush else 1)
            said = "flushed before the run" if flush else "not flushed"
            assert notes == [
                f"Redis database {url} {said}" + ("" if flush else ": keys of earlier runs stay")
            ]
        finally:
            await redis.flushdb()
            await redis.aclose()


class TestPercentile:
    def test_nearest_rank(self) -> None:
        samples = [float(n) for n in range(1, 101)]
        assert percentile(samples, 50) == 50.0
        assert percentile(samples, 99) == 99.0
        assert percentile([7.0], 99) == 7.0
        assert percentile([], 50) == 0.0
