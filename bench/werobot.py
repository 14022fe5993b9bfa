"""The WeRoBot comparison: a virtualenv of its own with WeRoBot and gunicorn, and its target.

`python -m bench setup-werobot` builds the environment (outside the project's, which never
depends on WeRoBot): `python -m venv`, `pip install werobot cryptography gunicorn`, then imports
werobot and its crypto to prove they work on this Python. The bot scenarios load it when it is
there and say in the report when it is not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.load import REPO_ROOT
from bench.registry import Target

DEFAULT_VENV = Path("/tmp/wxmember-bench-werobot")
PACKAGES = ("werobot", "cryptography", "gunicorn")
IMPORT_CHECK = "import werobot, werobot.crypto, gunicorn; print(werobot.__version__)"


def _bin(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def setup_werobot(venv: Path = DEFAULT_VENV) -> int:
    """Create the environment and install into it; 0 when werobot imports, 1 otherwise."""
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(_bin(venv, "pip")), "install", "--quiet", "--disable-pip-version-check", *PACKAGES],
        [str(_bin(venv, "python")), "-c", IMPORT_CHECK],
    ]
    for step in steps:
        print(f"$ {' '.join(step)}", flush=True)
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            print(f"setup-werobot: failed at: {' '.join(step)}", file=sys.stderr)
            return 1
    print(f"WeRoBot {done.stdout.strip()} ready in {venv}")
    return 0


def werobot_version(venv: Path = DEFAULT_VENV) -> str | None:
    """WeRoBot's version in the environment, or None when it is missing or does not import."""
    python = _bin(venv, "python")
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", IMPORT_CHECK], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def werobot_target(
    token: str, appid: str, aes_key: str, reply: str, venv: Path = DEFAULT_VENV
) -> Target:
    """WeRoBot under gunicorn: one sync worker (one process, like the service)."""

    def command(port: int) -> list[str]:
        return [
            str(_bin(venv, "gunicorn")),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "bench.werobot_app:app",
        ]

    env = {
        "BENCH_WEROBOT_TOKEN": token,
        "BENCH_WEROBOT_APPID": appid,
        "BENCH_WEROBOT_AES_KEY": aes_key,
        "BENCH_WEROBOT_REPLY": reply,
    }
    return Target("WeRoBot + gunicorn", command, REPO_ROOT, env)
