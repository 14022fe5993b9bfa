"""The files in `deploy/` are what their programs accept: nginx's site and snippet pass
`nginx -t`, and gunicorn resolves its config to aiohttp's workers with the README's settings.

The production site is checked as it would be installed, with the snippet under a snippets
directory and a throwaway certificate where the brand's would be.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "member.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _nginx_t(tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    assert NGINX is not None
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    shutil.copy(DEPLOY / "nginx" / "wxmember-proxy.conf", snippets)
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (tmp_path / temp).mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    {site.replace("/etc/nginx/snippets", str(snippets))}
}}
"""
    )
    return subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "logs/e.log")],
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(NGINX is None, reason="needs Debian's nginx")
class TestNginx:
    def test_the_production_site_passes_nginx_t(self, tmp_path: Path) -> None:
        cert, key = _certificate(tmp_path)
        site = (
            (DEPLOY / "nginx" / "wxmember.conf")
            .read_text()
            .replace("/etc/ssl/certs/member.example.com.pem", str(cert))
            .replace("/etc/ssl/private/member.example.com.key", str(key))
        )
        done = _nginx_t(tmp_path, site)
        assert done.returncode == 0, done.stderr

    def test_the_compose_site_passes_nginx_t(self, tmp_path: Path) -> None:
        # `service` is the container's name on compose's network; here, this host.
        site = (
            (DEPLOY / "nginx" / "compose.conf")
            .read_text()
            .replace("service:8080", "127.0.0.1:8080")
        )
        done = _nginx_t(tmp_path, site)
        assert done.returncode == 0, done.stderr

    def test_the_snippet_keeps_no_connection_to_the_workers(self) -> None:
        # A reload would lose a POST sent on a connection a departing worker closes (README).
        for name in ("wxmember.conf", "compose.conf"):
            assert "keepalive " not in (DEPLOY / "nginx" / name).read_text()


class TestGunicorn:
    def test_the_config_resolves_to_aiohttp_workers(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")]
            + ["--print-config", "wxmember.serving:app"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "WXMEMBER_WORKERS": "3"},
        )
        assert done.returncode == 0, done.stderr
        pairs = (line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
        settings = {key.strip(): value.strip() for key, value in pairs}
        assert settings["worker_class"] == "aiohttp.GunicornUVLoopWebWorker"
        assert settings["workers"] == "3"
        assert settings["graceful_timeout"] == "30"
        assert settings["max_requests"] == "100000"
        assert settings["max_requests_jitter"] == "10000"
        assert settings["bind"] == "['127.0.0.1:8080']"
