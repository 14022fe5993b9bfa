"""The CLI's runners: `wxmember run-reminders` and `wxmember scheduler`."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from handlers.operators.accounts import create_operator
from handlers.reminders.rules import RuleCreate, create_rule
from tests.factories import create_member
from tests.support.settings import PG_URL
from wxmember.core.config import Config
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.inputs import validate
from wxmember.core.models import Role
from wxmember.core.models.reminders import ReminderDelivery
from wxmember.core.models.subscriptions import SubscribeGrant
from wxmember.runner import run_rule_now, run_scheduler, running_services

DAY = date(2030, 1, 15)


async def arrange(config: Config, fake: FakeWeChat, *, granted: int = 1) -> int:
    """A birthday rule and members born on DAY; `granted` of them hold a grant."""
    fake.register_subscribe_template("tpl-cli", ["name1", "date2"])
    async with running_services(config):
        owner = await create_operator("cli-owner", "correct-horse-battery", Role.OWNER)
        rule = await create_rule(
            owner,
            validate(
                RuleCreate,
                {
                    "name": "生日",
                    "kind": "birthday",
                    "send_time": "23:59",
                    "days_before": 0,
                    "channel": "miniapp_subscribe",
                    "template_id": "tpl-cli",
                    "mapping": {"name1": "member_name", "date2": "birthday"},
                },
            ),
        )
        for n in range(2):
            member = await create_member(birthday=date(1990 + n, 1, 15))
            if n < granted:
                await SubscribeGrant.create(member=member, template_id="tpl-cli", remaining=1)
                fake.grant_subscription(member.openid or "", "tpl-cli")
    return rule.id


class TestRunRule:
    async def test_runs_the_rule_for_the_day_now(
        self, config: Config, fake_wechat: FakeWeChat
    ) -> None:
        rule_id = await arrange(config, fake_wechat)
        counts = await run_rule_now(config, rule_id, DAY)
        assert counts == {"claimed": 0, "sending": 0, "sent": 1, "skipped": 1, "failed": 0}
        assert [m.data["date2"] for m in fake_wechat.sent] == ["2030年1月15日"]
        assert await run_rule_now(config, rule_id, DAY) == counts
        assert len(fake_wechat.sent) == 1


class TestCommand:
    async def _run(
        self, settings: dict[str, Any], tmp_path: Path, *args: str
    ) -> tuple[int, str, str]:
        process = await self._start(settings, tmp_path, *args)
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def _start(
        self, settings: dict[str, Any], tmp_path: Path, *args: str, busy_timeout: float = 10
    ) -> asyncio.subprocess.Process:
        config_file = tmp_path / "config.toml"
        security = settings["security"]
        config_file.write_text(
            f'[database]\nurl = "{settings["database"]["url"]}"\n'
            f"busy_timeout_seconds = {busy_timeout}\n"
            f'[redis]\nurl = "{settings["redis"]["url"]}"\n'
            f'[miniapp]\nappid = "{settings["miniapp"]["appid"]}"\n'
            f'secret = "{settings["miniapp"]["secret"]}"\n'
            f'[wechat]\napi_base = "{settings["wechat"]["api_base"]}"\n'
            f'[security]\nsecret_key = "{security["secret_key"]}"\n'
            f'data_key = "{security["data_key"]}"\n',
            encoding="utf-8",
        )
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wxmember",
            "--config",
            str(config_file),
            "run-reminders",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def test_run_reminders_prints_the_outcome(
        self, config: Config, settings: dict[str, Any], fake_wechat: FakeWeChat, tmp_path: Path
    ) -> None:
        rule_id = await arrange(config, fake_wechat)
        code, out, err = await self._run(
            settings, tmp_path, "--rule", str(rule_id), "--date", DAY.isoformat()
        )
        assert code == 0, err
        assert f"rule {rule_id} on 2030-01-15: 2 reminders" in out
        assert "  sent: 1" in out and "  skipped: 1" in out
        assert len(fake_wechat.sent) == 1

    async def test_bad_arguments(
        self, config: Config, settings: dict[str, Any], tmp_path: Path
    ) -> None:
        code, _, err = await self._run(settings, tmp_path, "--rule", "1", "--date", "15/01/2030")
        assert code == 2 and "YYYY-MM-DD" in err
        code, _, err = await self._run(settings, tmp_path, "--rule", "99", "--date", "2030-01-15")
        assert code == 1 and "No such reminder rule" in err


class TestSchedulerProcess:
    async def test_runs_until_stopped_and_leads(
        self, config: Config, log_lines: Callable[[], str]
    ) -> None:
        stop = asyncio.Event()
        process = asyncio.create_task(
            run_scheduler(config.replace(scheduler={"enabled": True, "lease_seconds": 3}), stop)
        )

        async def leading() -> None:
            while "scheduler leader" not in log_lines():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(leading(), 20)
        assert not process.done()
        stop.set()
        await asyncio.wait_for(process, 20)
        assert "scheduler process stopped" in log_lines()


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's locking")
class TestConcurrentCommandsOnSQLite:
    """Commands beside each other on one SQLite file wait for the database instead of failing."""

    MEMBERS = 40

    async def _arrange_many(self, config: Config, fake: FakeWeChat) -> int:
        """A birthday rule and MEMBERS members born on DAY, each holding a grant."""
        rule_id = await arrange(config, fake, granted=2)
        async with running_services(config):
            for n in range(self.MEMBERS - 2):
                member = await create_member(birthday=date(1970 + n, 1, 15))
                await SubscribeGrant.create(member=member, template_id="tpl-cli", remaining=1)
                fake.grant_subscription(member.openid or "", "tpl-cli")
        return rule_id

    async def test_two_run_reminders_both_finish_and_each_reminder_goes_once(
        self, config: Config, settings: dict[str, Any], fake_wechat: FakeWeChat, tmp_path: Path
    ) -> None:
        rule_id = await self._arrange_many(config, fake_wechat)
        args = ("--rule", str(rule_id), "--date", DAY.isoformat())
        workdirs = [tmp_path / "a", tmp_path / "b"]
        for workdir in workdirs:
            workdir.mkdir()
        results = await asyncio.gather(
            *(TestCommand()._run(settings, workdir, *args) for workdir in workdirs)
        )
        for code, out, err in results:
            assert code == 0, err
            assert f"rule {rule_id} on 2030-01-15: {self.MEMBERS} reminders" in out
        sent = [message.touser for message in fake_wechat.sent]
        assert len(sent) == len(set(sent)) == self.MEMBERS
        states = await _delivery_states(config, rule_id)
        assert states == {"sent": self.MEMBERS}

    async def test_a_lock_released_in_time_is_waited_for(
        self, config: Config, settings: dict[str, Any], fake_wechat: FakeWeChat, tmp_path: Path
    ) -> None:
        rule_id = await arrange(config, fake_wechat)
        lock = _hold_write_lock(settings)
        process = await TestCommand()._start(
            settings,
            tmp_path,
            *("--rule", str(rule_id), "--date", DAY.isoformat()),
            busy_timeout=0.2,
        )
        seen = b""
        try:
            assert process.stderr is not None
            while b"database is locked; starting again" not in seen:
                line = await asyncio.wait_for(process.stderr.readline(), 60)
                assert line, seen.decode()
                seen += line
        finally:
            lock.close()  # the other process is done
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        assert f"rule {rule_id} on 2030-01-15: 2 reminders" in out.decode()
        assert len(fake_wechat.sent) == 1

    async def test_a_lock_held_throughout_is_one_line_and_exit_75(
        self, config: Config, settings: dict[str, Any], fake_wechat: FakeWeChat, tmp_path: Path
    ) -> None:
        rule_id = await arrange(config, fake_wechat)
        lock = _hold_write_lock(settings)
        try:
            process = await TestCommand()._start(
                settings,
                tmp_path,
                *("--rule", str(rule_id), "--date", DAY.isoformat()),
                busy_timeout=0.1,
            )
            _, err = await asyncio.wait_for(process.communicate(), 60)
        finally:
            lock.close()
        assert process.returncode == 75
        lines = [line for line in err.decode().splitlines() if not line.startswith("{")]
        assert lines == [
            "error: the database is locked by another process (tried 4 times); try again later"
        ]
        assert fake_wechat.sent == []


def _hold_write_lock(settings: dict[str, Any]) -> sqlite3.Connection:
    """Another process's write transaction on the test database, until the connection closes."""
    path = settings["database"]["url"].removeprefix("sqlite://").split("?")[0]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    return connection


async def _delivery_states(config: Config, rule_id: int) -> dict[str, int]:
    async with running_services(config):
        states = await ReminderDelivery.filter(rule_id=rule_id).values_list("state", flat=True)
    counts: dict[str, int] = {}
    for state in states:
        counts[str(state)] = counts.get(str(state), 0) + 1
    return counts
