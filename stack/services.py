"""Starting, stopping and breaking the local production shape, one part at a time.

The parts are real processes from Debian's packages and this checkout: PostgreSQL, Redis, the
fake WeChat, gunicorn with the service's workers, one scheduler and nginx in front. Each long
running part is started in a session of its own with its output in `logs/`, and found again
by its pid file, so that `./dev stack stop` works from another shell than `start`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.layout import DEPLOY, REPO_ROOT, Layout, nginx_config, write_config

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 45.0


class StackError(RuntimeError):
    """A part of the stack did not start or stop; the message carries the end of its log."""


def _postgres_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name or "0")
    )
    if not found:
        raise StackError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return found[-1]


def _need(program: str, package: str) -> str:
    """The program's path; Debian puts nginx in /usr/sbin, which a user's PATH may lack."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        raise StackError(f"{program} is not installed (Debian: apt-get install {package})")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return _state(pid) not in {"Z", None}
    return done == 0


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait(what: str, ready: Callable[[], bool], log: Path | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise StackError(f"{what} not ready within {timeout:.0f} s{_tail(log)}")


def _tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n--- " + str(log) + "\n" + "\n".join(text)


@dataclass
class PartStatus:
    name: str
    pid: int | None
    running: bool
    detail: str = ""


class Stack:
    """The local stack in `layout.root`: start it, stop it, and fault it part by part."""

    PARTS = ("postgres", "redis", "wechat", "service", "scheduler", "nginx")

    def __init__(self, layout: Layout, *, gunicorn_args: Sequence[str] = ()) -> None:
        """`gunicorn_args` go after deploy/gunicorn.conf.py's and win over them."""
        self.layout = layout
        self.gunicorn_args = list(gunicorn_args)
        self.pg_bin = _postgres_bin()
        # The processes this object started, reaped through their Popen when they end.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        return _alive(pid)

    # ------------------------------------------------------------------ environment

    def environment(self) -> dict[str, str]:
        """What every process of ours runs with: the stack's config file and nothing else."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXMEMBER_")}
        env["WXMEMBER_CONFIG"] = str(self.layout.config_file)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        return env

    def _as_postgres(self, command: Sequence[str]) -> list[str]:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def _spawn(self, name: str, command: Sequence[str]) -> int:
        log = self.layout.log_file(name).open("ab")
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._children[proc.pid] = proc
        self.layout.pid_file(name).write_text(str(proc.pid))
        return proc.pid

    def pid(self, name: str) -> int | None:
        try:
            pid = int(self.layout.pid_file(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._alive(pid) else None

    # ------------------------------------------------------------------ start

    def start(
        self, *, scheduler: bool = True, settings: Mapping[str, Mapping[str, Any]] = {}
    ) -> None:
        """Start every part not running yet, in order, each waited for until it answers."""
        for directory in (self.layout.root, self.layout.logs, self.layout.run):
            directory.mkdir(parents=True, exist_ok=True)
        self.layout.save()
        write_config(self.layout, settings=settings)
        self.start_postgres()
        self.start_redis()
        self.start_wechat()
        self._migrate()
        self.start_service()
        if scheduler:
            self.start_scheduler()
        self.start_nginx()

    def start_postgres(self) -> None:
        pgdata = self.layout.pgdata
        log = self.layout.log_file("postgres")
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(pgdata, "postgres")
            subprocess.run(
                self._as_postgres(
                    [str(self.pg_bin / "initdb"), "-D", str(pgdata), "-A", "trust", "-U"]
                    + ["postgres", "-E", "UTF8", "--locale=C.UTF-8"]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if self.pid("postgres"):
            return
        log.touch()
        if os.geteuid() == 0:
            shutil.chown(log, "postgres")
        options = (
            f"-p {self.layout.ports.postgres} -k /tmp -c listen_addresses=127.0.0.1"
            " -c max_connections=200 -c fsync=off"
        )
        subprocess.run(
            self._as_postgres(
                [str(self.pg_bin / "pg_ctl"), "-D", str(pgdata), "-o", options, "-l", str(log)]
                + ["-w", "-t", "60", "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        postmaster = (pgdata / "postmaster.pid").read_text().split()[0]
        self.layout.pid_file("postgres").write_text(postmaster)
        created = subprocess.run(
            [str(self.pg_bin / "psql"), "-h", "127.0.0.1", "-p", str(self.layout.ports.postgres)]
            + ["-U", "postgres", "-tAc", "SELECT 1 FROM pg_database WHERE datname='wxmember'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not created:
            subprocess.run(
                [str(self.pg_bin / "createdb"), "-h", "127.0.0.1"]
                + ["-p", str(self.layout.ports.postgres), "-U", "postgres", "wxmember"],
                check=True,
            )

    def start_redis(self) -> None:
        if self.pid("redis"):
            return
        server = _need("redis-server", "redis-server")
        port = str(self.layout.ports.redis)
        self._spawn(
            "redis",
            [server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        cli = _need("redis-cli", "redis-tools")

        def answers() -> bool:
            done = subprocess.run([cli, "-p", port, "ping"], capture_output=True, text=True)
            return done.stdout.strip() == "PONG"

        _wait("Redis", answers, self.layout.log_file("redis"), START_TIMEOUT_SECONDS)

    def start_wechat(self) -> None:
        if self.pid("wechat"):
            return
        port = str(self.layout.ports.wechat)
        self._spawn("wechat", [sys.executable, "-m", "stack.wechat", "--port", port])
        _wait(
            "the fake WeChat",
            lambda: _http_ok(self.layout.wechat_url + "/_fake/sent"),
            self.layout.log_file("wechat"),
            START_TIMEOUT_SECONDS,
        )

    def _migrate(self) -> None:
        wxmember = [sys.executable, "-m", "wxmember", "--config", str(self.layout.config_file)]
        done = subprocess.run(
            [*wxmember, "migrate"], env=self.environment(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise StackError(f"migrations failed:\n{done.stdout}{done.stderr}")
        password_file = self.layout.root / "owner-password"
        if password_file.exists():
            return
        password = secrets.token_urlsafe(12)
        created = subprocess.run(
            [*wxmember, "create-operator", "--username", "owner", "--role", "owner"]
            + ["--display-name", "Owner", "--password-stdin"],
            input=password + "\n",
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise StackError(f"creating the owner failed:\n{created.stdout}{created.stderr}")
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)

    def start_service(self) -> None:
        if self.pid("service"):
            return
        self._spawn(
            "service",
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")]
            + ["--bind", f"127.0.0.1:{self.layout.ports.service}"]
            + ["--workers", str(self.layout.workers), *self.gunicorn_args, "wxmember.serving:app"],
        )
        self.wait_for_workers()

    def wait_for_workers(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until gunicorn runs all its workers and one of them answers /readyz."""

        def ready() -> bool:
            if self.pid("service") is None:
                raise StackError(f"gunicorn exited{_tail(self.layout.log_file('service'))}")
            return len(self.worker_pids()) == self.layout.workers and _http_ok(
                self.layout.service_url + "/readyz"
            )

        _wait("the service", ready, self.layout.log_file("service"), timeout)

    def start_scheduler(self) -> None:
        if self.pid("scheduler"):
            return
        self.spawn_scheduler("scheduler")

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines of a part's log, to explain a failure."""
        return _tail(self.layout.log_file(name), lines)

    def spawn_scheduler(self, name: str) -> int:
        """A scheduler process under its own name (the fault suite runs two)."""
        log = self.layout.log_file(name)
        start = log.stat().st_size if log.exists() else 0
        pid = self._spawn(
            name,
            [sys.executable, "-m", "wxmember", "--config", str(self.layout.config_file)]
            + ["scheduler"],
        )

        def running() -> bool:
            if not self._alive(pid):
                raise StackError(f"{name} exited{_tail(log)}")
            with log.open("rb") as f:
                f.seek(start)
                return b"scheduler process running" in f.read()

        _wait(name, running, log, START_TIMEOUT_SECONDS)
        return pid

    def start_nginx(self) -> None:
        if self.pid("nginx"):
            return
        nginx = _need("nginx", "nginx")
        directory = self.layout.nginx_dir
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (directory / temp).mkdir(parents=True, exist_ok=True)
        conf = directory / "nginx.conf"
        conf.write_text(nginx_config(self.layout), encoding="utf-8")
        done = subprocess.run(
            [
                nginx,
                "-p",
                str(directory),
                "-c",
                str(conf),
                "-e",
                str(self.layout.log_file("nginx-error")),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise StackError(f"nginx did not start:\n{done.stderr}")
        _wait(
            "nginx",
            lambda: _http_ok(self.layout.url + "/healthz"),
            self.layout.log_file("nginx-error"),
            START_TIMEOUT_SECONDS,
        )

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        """Stop every part, the front first; what is already stopped is skipped."""
        for name in ("nginx", "service", *self._scheduler_names(), "wechat", "redis"):
            self.stop_part(name)
        self.stop_postgres()

    def _scheduler_names(self) -> list[str]:
        return sorted(p.stem for p in self.layout.run.glob("scheduler*.pid"))

    def stop_part(self, name: str, sig: int = signal.SIGTERM) -> None:
        pid = self.pid(name)
        if pid is None:
            self.layout.pid_file(name).unlink(missing_ok=True)
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while self._alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        self.layout.pid_file(name).unlink(missing_ok=True)

    def stop_postgres(self, mode: str = "fast") -> None:
        if not (self.layout.pgdata / "postmaster.pid").exists():
            return
        subprocess.run(
            self._as_postgres(
                [str(self.pg_bin / "pg_ctl"), "-D", str(self.layout.pgdata), "-m", mode, "-w"]
                + ["stop"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.layout.pid_file("postgres").unlink(missing_ok=True)

    # ------------------------------------------------------------------ inspect and fault

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the children of its master process."""
        master = self.pid("service")
        if master is None:
            return []
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children if _state(int(pid)) not in {"Z", None}]

    def reload_service(self) -> None:
        """gunicorn's HUP: new workers are started, the old ones finish and leave."""
        pid = self.pid("service")
        if pid is None:
            raise StackError("the service is not running")
        os.kill(pid, signal.SIGHUP)

    def status(self) -> list[PartStatus]:
        parts = []
        for name in ("postgres", "redis", "wechat", "service", *self._scheduler_names(), "nginx"):
            pid = self.pid(name)
            detail = ""
            if name == "service" and pid:
                detail = f"{len(self.worker_pids())} workers"
            parts.append(PartStatus(name, pid, pid is not None, detail))
        return parts
