"""The `wxmember` command line: options before or after the command, `serve` on a config file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from tests.support.processes import REPO_ROOT, free_port
from tests.support.settings import DATA_KEY, SECRET_KEY
from wxmember.cli import build_parser

# Each command with the arguments it requires.
COMMANDS = [
    ["serve"],
    ["migrate"],
    ["makemigrations"],
    ["create-operator", "--username", "u", "--role", "owner"],
    ["demo"],
    ["scheduler"],
    ["run-reminders", "--rule", "1", "--date", "2030-01-15"],
    ["evaluate-tiers"],
    ["score-rfm"],
    ["pay-benefits", "birthday"],
    ["import-members", "members.csv", "--operator", "olga"],
    ["keygen"],
]


class TestOptions:
    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
    def test_config_and_log_level_after_the_command(self, command: list[str]) -> None:
        args = build_parser().parse_args([*command, "--config", "x.toml", "--log-level", "debug"])
        assert (args.config, args.log_level) == ("x.toml", "DEBUG")

    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
    def test_before_the_command_and_not_undone_after_it(self, command: list[str]) -> None:
        args = build_parser().parse_args(["--config", "x.toml", "--log-level", "warning", *command])
        assert (args.config, args.log_level) == ("x.toml", "WARNING")

    def test_defaults(self) -> None:
        args = build_parser().parse_args(["migrate"])
        assert (args.config, args.log_level) == (None, "INFO")

    def test_an_unknown_log_level_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["migrate", "--log-level", "loud"])
        assert exit_info.value.code == 2
        assert "--log-level" in capsys.readouterr().err

    @pytest.mark.parametrize(
        "command",
        [
            ["run-reminders", "--rule", "1", "--date", "2030-02-30"],
            ["evaluate-tiers", "--period-end", "yesterday"],
            ["score-rfm", "--date", "2030-1-5"],
            ["pay-benefits", "monthly", "--date", "2030-13-01"],
        ],
        ids=lambda c: c[0],
    )
    def test_a_day_that_is_not_a_date_is_refused(
        self, command: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(command)
        assert exit_info.value.code == 2
        assert "must be a date, YYYY-MM-DD" in capsys.readouterr().err

    def test_days_are_read_as_dates(self) -> None:
        args = build_parser().parse_args(["score-rfm", "--date", "2030-01-05"])
        assert args.date == date(2030, 1, 5)

    def test_pay_benefits_names_the_benefit_to_pay(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        args = build_parser().parse_args(["pay-benefits", "monthly", "--date", "2030-01-05"])
        assert (args.benefit, args.date, args.batch_size) == ("monthly", date(2030, 1, 5), 500)
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["pay-benefits", "weekly"])
        assert exit_info.value.code == 2
        assert "invalid choice" in capsys.readouterr().err


def _config_file(path: Path, database_url: str, port: int) -> Path:
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[security]\nsecret_key = "{SECRET_KEY}"\ndata_key = "{DATA_KEY}"\n'
        "[scheduler]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


async def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            assert process.poll() is None, f"exited with {process.returncode}"
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return dict(response.headers)
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"{url} not healthy after {timeout}s"
            await asyncio.sleep(0.2)


class TestServe:
    async def test_serves_on_the_config_file_given_after_the_command(
        self, database_url: str, tmp_path: Path
    ) -> None:
        port = free_port()
        config_file = _config_file(tmp_path / "service.toml", database_url, port)
        log = (tmp_path / "serve.log").open("wb")
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "wxmember", "serve", "--config", str(config_file)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            headers = await _wait_healthy(f"http://127.0.0.1:{port}", process, 60)
            assert headers["Server"] == "wxmember"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        assert process.returncode == 0, (tmp_path / "serve.log").read_text()
