"""Where the local stack keeps its state, which ports it takes, and the config it writes.

Everything lives in one directory (`.stack/` at the repository root unless told otherwise):
the PostgreSQL cluster, the logs, the pid files, nginx's generated config and temporary
files, and the service's config file with keys generated once.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wxmember.core.config import generate_data_key

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"

# The fake WeChat's apps: the service is configured with these, and the fault suite signs
# pushes with the Official Account's token and key.
MINIAPP = ("wxstackminiapp001", "stack-miniapp-secret-0123456789")
OFFICIAL = ("wxstackofficial01", "stack-official-secret-012345678")
OFFICIAL_TOKEN = "stacktoken"
OFFICIAL_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass(frozen=True)
class Ports:
    """Local ports of the stack's parts, below the ephemeral range so no client holds them."""

    nginx: int
    service: int
    wechat: int
    postgres: int
    redis: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(nginx=base, service=base + 1, wechat=base + 2, postgres=base + 3, redis=base + 4)


DEFAULT_BASE_PORT = 18080


@dataclass(frozen=True)
class Layout:
    """The stack's directory and ports, and every path derived from them."""

    root: Path
    ports: Ports
    workers: int = 2

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "nginx"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def layout_file(self) -> Path:
        return self.root / "stack.json"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def url(self) -> str:
        """The stack's front door: nginx."""
        return f"http://127.0.0.1:{self.ports.nginx}"

    @property
    def service_url(self) -> str:
        """The workers' own socket, behind nginx."""
        return f"http://127.0.0.1:{self.ports.service}"

    @property
    def wechat_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.wechat}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports.postgres}/wxmember"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    def save(self) -> None:
        """Record the ports and workers, so `stop` and `status` find a stack started elsewhere."""
        self.layout_file.write_text(
            json.dumps({"ports": self.ports.__dict__, "workers": self.workers}), encoding="utf-8"
        )

    @classmethod
    def load(cls, root: Path) -> Layout | None:
        try:
            saved = json.loads((root / "stack.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls(root=root, ports=Ports(**saved["ports"]), workers=saved["workers"])


def write_config(layout: Layout, *, settings: Mapping[str, Mapping[str, Any]] = {}) -> None:
    """The service's config file: the stack's servers, keys made once and kept, and
    `settings` over them (section -> key -> value)."""
    keys_file = layout.root / "keys.json"
    if keys_file.exists():
        keys = json.loads(keys_file.read_text(encoding="utf-8"))
    else:
        keys = {"secret_key": secrets.token_urlsafe(32), "data_key": generate_data_key()}
        keys_file.write_text(json.dumps(keys), encoding="utf-8")
        keys_file.chmod(0o600)
    config: dict[str, dict[str, Any]] = {
        "server": {
            "host": "127.0.0.1",
            "port": layout.ports.service,
            "trusted_proxies": ["127.0.0.1"],
        },
        "database": {"url": layout.database_url, "pool_max": 20},
        "redis": {"url": layout.redis_url},
        "security": dict(keys),
        "miniapp": {"appid": MINIAPP[0], "secret": MINIAPP[1]},
        "official": {
            "appid": OFFICIAL[0],
            "secret": OFFICIAL[1],
            "token": OFFICIAL_TOKEN,
            "encoding_aes_key": OFFICIAL_AES_KEY,
        },
        "wechat": {"api_base": layout.wechat_url},
    }
    for section, values in settings.items():
        config.setdefault(section, {}).update(values)
    lines = ["# Written by `./dev stack start`: the local production shape."]
    for section, values in config.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    layout.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    layout.config_file.chmod(0o600)


def nginx_config(layout: Layout) -> str:
    """nginx's main config for the stack: the repository's proxy snippet, on local ports."""
    temp = layout.nginx_dir
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {layout.pid_file("nginx")};
error_log {layout.log_file("nginx-error")} warn;
events {{ worker_connections 4096; }}
http {{
    access_log {layout.log_file("nginx-access")};
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream wxmember {{
        server 127.0.0.1:{layout.ports.service};
    }}
    server {{
        listen 127.0.0.1:{layout.ports.nginx};
        include {DEPLOY / "nginx" / "wxmember-proxy.conf"};
    }}
}}
"""
