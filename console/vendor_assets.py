"""Refresh the service's third-party browser assets from the npm registry: `./dev vendor`.

Each asset is one file of one npm package at a pinned version, for the console
(`console/static/vendor/`) or the API documents' page at `/docs/` (`wxmember/static/vendor/`).
The script downloads the package tarball from the registry, checks it against the registry's
published integrity (SHA-512), takes the one file out and writes it to its folder, and records
the version, source and SHA-256 of every file in the `manifest.json` beside them. The files are
checked in: running or testing the service needs neither Node nor the network, and the service
serves them with long cache lifetimes (their names carry the version).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).parent / "static" / "vendor"
DOCS_VENDOR = Path(__file__).resolve().parents[1] / "wxmember" / "static" / "vendor"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str  # inside the package
    name: str  # the file written

    @property
    def tarball(self) -> str:
        short = self.package.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.package}/-/{short}-{self.version}.tgz"


ASSETS = (
    Asset("htmx.org", "2.0.11", "package/dist/htmx.min.js", "htmx-2.0.11.min.js"),
    Asset("echarts", "5.6.0", "package/dist/echarts.min.js", "echarts-5.6.0.min.js"),
    Asset("jsqr", "1.4.0", "package/dist/jsQR.js", "jsqr-1.4.0.js"),
)
# The API documents' page, `/docs/` (wxmember.apidocs).
DOCS_ASSETS = (
    Asset("redoc", "2.5.2", "package/bundles/redoc.standalone.js", "redoc-2.5.2.standalone.js"),
)
# Each folder with its assets; a manifest.json in each.
FOLDERS = ((VENDOR, ASSETS), (DOCS_VENDOR, DOCS_ASSETS))


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (the npm registry)
        data: bytes = response.read()
        return data


def _integrity(asset: Asset) -> str:
    meta = json.loads(_fetch(f"{REGISTRY}/{asset.package}/{asset.version}"))
    return str(meta["dist"]["integrity"])


def refresh(asset: Asset, folder: Path) -> dict[str, str]:
    """Download, verify and write one asset; its manifest entry."""
    tarball = _fetch(asset.tarball)
    algorithm, _, expected = _integrity(asset).partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if algorithm != "sha512" or actual != expected:
        raise SystemExit(f"{asset.package}@{asset.version}: tarball integrity does not match")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile(asset.path)
        if member is None:
            raise SystemExit(f"{asset.package}@{asset.version}: no {asset.path}")
        content = member.read()
    (folder / asset.name).write_bytes(content)
    return {
        "package": asset.package,
        "version": asset.version,
        "source": f"{asset.tarball}#{asset.path}",
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def check() -> list[str]:
    """Files whose content no longer matches their manifest (empty when all are intact)."""
    broken = []
    for folder, _ in FOLDERS:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        broken += [
            str(folder / name)
            for name, entry in manifest.items()
            if hashlib.sha256((folder / name).read_bytes()).hexdigest() != entry["sha256"]
        ]
    return broken


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        broken = check()
        print("\n".join(broken) or "vendored assets match the manifest")
        return 1 if broken else 0
    for folder, assets in FOLDERS:
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {asset.name: refresh(asset, folder) for asset in assets}
        text = json.dumps(manifest, indent=2) + "\n"
        (folder / "manifest.json").write_text(text, encoding="utf-8")
        for name, entry in manifest.items():
            print(f"{name}: {entry['package']}@{entry['version']} sha256 {entry['sha256'][:16]}…")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
