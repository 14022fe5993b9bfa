"""`python -m stack start|stop|status` (`./dev stack ...`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stack.layout import DEFAULT_BASE_PORT, REPO_ROOT, Layout, Ports
from stack.services import Stack, StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev stack", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=REPO_ROOT / ".stack", help="state directory")
    parser.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help="nginx's port; the service, WeChat, PostgreSQL and Redis take the next four",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    layout = Layout.load(root) if args.command != "start" else None
    layout = layout or Layout(root, Ports.from_base(args.base_port), args.workers)
    try:
        stack = Stack(layout)
        if args.command == "start":
            stack.start()
            password = (root / "owner-password").read_text().strip()
            print(f"stack running in {root}")
            print(f"  service (nginx):  {layout.url}   console: {layout.url}/console/")
            print(f"  owner login:      owner / {password}")
            print(f"  gunicorn:         {layout.service_url} ({layout.workers} workers)")
            print(f"  PostgreSQL:       {layout.database_url}")
            print(f"  Redis:            {layout.redis_url}")
            print(f"  fake WeChat:      {layout.wechat_url}")
            print(f"  logs:             {layout.logs}")
            print("stop it with: ./dev stack stop")
        elif args.command == "stop":
            stack.stop()
            print("stack stopped")
        else:
            for part in stack.status():
                state = f"running (pid {part.pid})" if part.running else "stopped"
                print(f"{part.name:<10} {state} {part.detail}".rstrip())
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
