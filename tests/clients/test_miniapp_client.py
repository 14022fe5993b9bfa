"""The mini-program's TypeScript client (`clients/miniapp/`).

Its types are generated from the committed document and are current; it type-checks, misuse
included (tsc must refuse every line of `src/checks.ts` marked `@ts-expect-error`); and, compiled
and run in Node against a real demo service, it logs in with `wx.login`, sends the bearer token,
logs in again when the token is stale, reads the error body's code and keeps a redemption's
`Idempotency-Key` across a retry whose first answer was lost.

These need Node.js and the client's packages (`./dev clients` installs them from the npm
registry). Without them the tests are skipped, unless `WXMEMBER_REQUIRE_NODE` is set (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO_ROOT, running_demo

CLIENT = REPO_ROOT / "clients" / "miniapp"
TOOLS = CLIENT / "node_modules" / ".bin"
DRIVER = Path(__file__).with_name("drive_miniapp_client.cjs")


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None or not (TOOLS / "tsc").exists():
        reason = "Node.js and clients/miniapp/node_modules are needed: run `./dev clients`"
        if os.environ.get("WXMEMBER_REQUIRE_NODE"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def _run(*command: str | Path, cwd: Path = CLIENT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_types_are_those_of_the_committed_document(node: str) -> None:
    done = _run("npm", "run", "-s", "generate", "--", "--check")
    assert done.returncode == 0, f"stale: run `./dev clients`\n{done.stdout}{done.stderr}"


def test_the_client_type_checks_and_misuse_does_not(node: str) -> None:
    done = _run(TOOLS / "tsc", "--noEmit", "-p", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_misuse_left_unmarked_fails_the_type_check(node: str, tmp_path: Path) -> None:
    """The check can fail: without its `@ts-expect-error`, a redemption sent without a key is
    refused by tsc."""
    copy = tmp_path / "miniapp"
    shutil.copytree(CLIENT, copy, symlinks=True, ignore=shutil.ignore_patterns("node_modules"))
    (copy / "node_modules").symlink_to(CLIENT / "node_modules")
    checks = copy / "src" / "checks.ts"
    text = checks.read_text()
    marker = "    // @ts-expect-error the key is required\n"
    assert marker in text
    checks.write_text(text.replace(marker, ""))
    done = _run(TOOLS / "tsc", "--noEmit", "-p", ".", cwd=copy)
    assert done.returncode != 0
    assert "idempotencyKey" in done.stdout


@pytest.fixture(scope="module")
def compiled(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("miniapp-client")
    done = _run(
        TOOLS / "tsc",
        "-p",
        ".",
        "--noEmit",
        "false",
        "--module",
        "commonjs",
        "--moduleResolution",
        "node10",
        "--outDir",
        out,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "client.js"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_demo(
        tmp_path_factory.mktemp("client-demo"), {"WXMEMBER_SCHEDULER_ENABLED": "false"}
    ) as url:
        yield url


@pytest.fixture(scope="module")
def drive(node: str, compiled: Path, service: str) -> dict[str, Any]:
    done = _run(node, DRIVER, compiled, service, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_login_stores_the_token_and_sends_it_as_a_bearer(drive: dict[str, Any]) -> None:
    assert drive["login"] == {"has_card": False, "token_stored": True}
    assert drive["bearer_sent"] is True
    assert drive["card"]["card_no"] == drive["card"]["shown"]
    assert drive["card"]["phone"] == "139****1234"
    assert drive["profile"] == "undisclosed"


def test_a_refusal_is_an_api_error_with_the_stable_code(drive: dict[str, Any]) -> None:
    assert drive["card_before"] == {"name": "ApiError", "status": 409, "code": "card_required"}
    assert drive["refused"] == {"name": "ApiError", "status": 404, "code": "template_not_found"}
    assert drive["bad_key"] == {
        "name": "ApiError",
        "status": 400,
        "code": "idempotency_key_required",
    }


def test_a_stale_token_logs_in_again(drive: dict[str, Any]) -> None:
    assert drive["relogin"] is True
    assert drive["relogin_token_replaced"] is True


def test_a_redemption_keeps_its_key_and_is_made_once(drive: dict[str, Any]) -> None:
    assert drive["item"] is not None
    assert drive["same_key"]["first"] == drive["same_key"]["retry"]
    first, retry, *_ = drive["key_header"]
    assert first == retry and 8 <= len(first) <= 64
    assert drive["lost_answer"] == {"replayed": True, "attempts": 2, "one_key": True}
    assert drive["orders"] == 2
