"""The demo: its reminders and first-minute greeting, its configuration, a real start."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient

from handlers.benefits import pay_birthday_gifts
from handlers.reminders.runs import run_due_reminders
from tests.support.processes import REPO_ROOT, free_port
from tests.support.settings import DATA_KEY, SECRET_KEY
from wxmember.core.config import Config, load_config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member
from wxmember.core.models.reminders import ReminderRule
from wxmember.demo import DEMO_MINIAPP_TOKEN, FAKE_SETUPS, SEEDS, demo_config
from wxmember.demo.reminders import BIRTHDAY_OPENID, BIRTHDAY_TEMPLATE


class TestDemoReminders:
    async def test_seeded_rules_and_the_greeting_at_start(
        self, client: TestClient, config: Config, services: Services, fake_wechat: FakeWeChat
    ) -> None:
        for seed in SEEDS:
            await seed(services)
        for setup in FAKE_SETUPS:
            setup(fake_wechat)
        rules = await ReminderRule.all().order_by("id")
        assert [(r.kind, r.enabled) for r in rules] == [
            ("birthday", True),
            ("points_expiring", True),
            ("coupon_expiring", True),
        ]
        assert rules[0].send_time == "00:00"
        await run_due_reminders(services)  # the scheduler's first minute
        [greeting] = [m for m in fake_wechat.sent if m.touser == BIRTHDAY_OPENID]
        assert greeting.template_id == BIRTHDAY_TEMPLATE
        assert greeting.data["name1"] == "李小满"
        member = await Member.get(openid=BIRTHDAY_OPENID)
        assert member.points_balance == 100  # the birthday gift
        await pay_birthday_gifts(services)  # the tier's own birthday gift comes on top
        await member.fetch_related("tier")
        assert member.tier is not None
        [tier_gift] = [b["points"] for b in member.tier.benefits if b["kind"] == "birthday_gift"]
        await member.refresh_from_db()
        assert member.points_balance == 100 + tier_gift
        for seed in SEEDS:  # seeding again adds nothing
            await seed(services)
        assert await ReminderRule.all().count() == 3


def _signature(*parts: str) -> str:
    """WeChat's push signature: SHA-1 of the sorted parts, joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class TestDemoConfig:
    """`wxmember demo` runs on the configuration `serve` would use, announcing what it changes."""

    def test_the_environment_is_honoured(self, tmp_path: Path) -> None:
        loaded = load_config(
            None,
            environ={
                "WXMEMBER_SERVER_PORT": "18123",
                "WXMEMBER_MINIAPP_TOKEN": "my-push-token",
                "WXMEMBER_BRAND_NAME": "My Tea",
                "WXMEMBER_SECURITY_SECRET_KEY": SECRET_KEY,
                "WXMEMBER_SECURITY_DATA_KEY": DATA_KEY,
            },
        )
        config, notes = demo_config(loaded, db_path=str(tmp_path / "demo.db"))
        assert (config.server.host, config.server.port) == ("127.0.0.1", 18123)
        assert config.miniapp.token.get_secret_value() == "my-push-token"
        assert config.brand.name == "My Tea"
        assert config.security.secret_key.get_secret_value() == SECRET_KEY
        assert config.database.url == f"sqlite://{tmp_path / 'demo.db'}"
        assert config.wechat.api_base == "http://127.0.0.1:18123/fake-wechat"
        assert notes == [
            f"demo: database.url = sqlite://{tmp_path / 'demo.db'} (the demo's own SQLite file)",
            "demo: wechat.api_base = http://127.0.0.1:18123/fake-wechat (the demo's fake WeChat)",
            "demo: sample values for settings left unset: miniapp.appid, miniapp.secret, "
            "miniapp.original_id, official.appid, official.secret, official.token, "
            "official.encoding_aes_key",
        ]

    def test_options_win_and_a_shared_redis_is_not_used(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text(
            '[server]\nhost = "0.0.0.0"\nport = 9000\n[redis]\nurl = "redis://10.0.0.1:6379/0"\n'
            '[miniapp]\nappid = "wxmine"\nsecret = "mine"\ntoken = "t"\n',
            encoding="utf-8",
        )
        loaded = load_config(path, environ={})
        config, notes = demo_config(loaded, port=9100, db_path=str(tmp_path / "demo.db"))
        assert (config.server.host, config.server.port) == ("0.0.0.0", 9100)
        assert config.wechat.api_base == "http://127.0.0.1:9100/fake-wechat"
        assert config.redis.url == ""
        assert config.miniapp.appid == "wxmine"
        assert any(note.startswith("demo: redis.url = in-process stand-in") for note in notes)
        assert (tmp_path / "demo.db.keys.json").exists()  # keys beside the demo's database


class TestDemoProcess:
    async def test_starts_on_the_port_from_the_environment(self, tmp_path: Path) -> None:
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "WXMEMBER_SERVER_PORT": str(port),
            "WXMEMBER_SCHEDULER_ENABLED": "false",
        }
        out = (tmp_path / "demo.out").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "wxmember", "demo", "--db", str(tmp_path / "demo.db")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                deadline = time.monotonic() + 90
                while True:
                    assert process.poll() is None, (tmp_path / "demo.out").read_text()
                    try:
                        async with session.get(base + "/healthz") as response:
                            if response.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    assert time.monotonic() < deadline, "the demo did not start"
                    await asyncio.sleep(0.3)
                # the mini-program push answers with the demo's push token
                timestamp, nonce = str(int(time.time())), "n0nce"
                query = {
                    "signature": _signature(DEMO_MINIAPP_TOKEN, timestamp, nonce),
                    "timestamp": timestamp,
                    "nonce": nonce,
                    "echostr": "hello",
                }
                async with session.get(base + "/wechat/miniapp", params=query) as response:
                    assert (response.status, await response.text()) == (200, "hello")
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            out.close()
        printed = (tmp_path / "demo.out").read_text()
        assert f"demo: wechat.api_base = {base}/fake-wechat (the demo's fake WeChat)" in printed
        assert f"wxmember demo on {base}" in printed
