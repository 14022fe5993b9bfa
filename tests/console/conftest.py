"""Browser tests of the console: a real `wxmember demo` process on SQLite, driven by Chromium.

Playwright for Python drives Debian's Chromium (`/usr/bin/chromium`, or `$WXMEMBER_CHROMIUM`),
launched through `executable_path` (browsers are never downloaded). One service process serves
the whole run and one browser a test module; every test gets a fresh browser context (its own
cookies) and fails if the page logged an error to the browser console.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.processes import running_demo

CHROMIUM = os.environ.get("WXMEMBER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DEMO_PASSWORD = "demo-password-123"
CHROMIUM_ARGS = [
    "--lang=zh-CN",  # the browser's own widgets (date fields) in the console's language
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="session")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running demo service (seeded brand, fake WeChat) on SQLite."""
    with running_demo(tmp_path_factory.mktemp("console")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API keeps its event loop running in
    this thread while it is open, so it must end with the module: the asyncio tests that
    follow need the thread to themselves."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ConsoleErrors(list[str]):
    """What the page logged as errors in the browser console; `expect(status)` allows the one
    line Chromium logs for a page answered with an error status on purpose (403, 404)."""

    def expect(self, status: int) -> None:
        line = f"the server responded with a status of {status}"
        for problem in [p for p in self if line in p][:1]:
            self.remove(problem)


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser: Browser, console_url: str, console_errors: ConsoleErrors) -> Iterator[Page]:
    """A page in a fresh browser context; the test fails on any error in the browser console."""
    context = browser.new_context(base_url=console_url, locale="zh-CN")
    tab = context.new_page()
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: console_errors.append(str(error)))
    yield tab
    context.close()
    assert list(console_errors) == []


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form, as staff do."""
    page.goto("/console/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
