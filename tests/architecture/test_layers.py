"""The plan of the tree, enforced: each layer imports only the layers below it.

    layer              packages                                may import
    composition root   wxmember (all but wxmember.core)        anything
    channels           miniapp_api, bot, admin, console, jobs  core, handlers, cards; not each other
    rendering          cards                                   core, handlers
    domain             handlers                                core
    core               wxmember.core                           nothing of ours above it

Every import in a module counts, at the top or inside a function, under `TYPE_CHECKING` too.
Capability packages inside `handlers/` must not import each other in a cycle either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ("miniapp_api", "bot", "admin", "console", "jobs")
OURS = ("wxmember", "handlers", "cards", *CHANNELS)


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to, or None for a third-party module."""
    top = module.split(".")[0]
    if top not in OURS:
        return None
    if top == "wxmember":
        return (
            "core" if module == "wxmember.core" or module.startswith("wxmember.core.") else "root"
        )
    if top in CHANNELS:
        return top
    return top


def allowed(importer: str, imported: str) -> bool:
    """Whether a module of layer `importer` may import one of layer `imported`."""
    if importer == imported or importer == "root":
        return True
    below = {
        "core": set(),
        "handlers": {"core"},
        "cards": {"core", "handlers"},
    }
    if importer in CHANNELS:
        return imported in {"core", "handlers", "cards"}
    return imported in below[importer]


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: imports {self.module}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[Import]:
    """Every module a file imports (`from a import b` yields `a.b` when `a.b` is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / candidate.replace(".", "/") / "__init__.py"
                ).exists()
                yield Import(path, node.lineno, candidate if is_module else base)


def source_files() -> list[Path]:
    files: list[Path] = []
    for top in OURS:
        folder = ROOT / top
        if folder.is_dir():
            files.extend(p for p in folder.rglob("*.py") if "migrations" not in p.parts)
    return sorted(files)


def violations(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        importer = layer_of(module_name(path))
        assert importer is not None
        for imported in imports_of(path):
            target = layer_of(imported.module)
            if target is not None and not allowed(importer, target):
                found.append(f"{imported}  ({importer} may not import {target})")
    return found


def test_every_import_follows_the_layers() -> None:
    assert violations(source_files()) == []


def handler_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "handlers" and len(parts) > 1 else None


def test_capability_packages_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "handlers").rglob("*.py"):
        source = handler_package(module_name(path))
        if source is None:
            continue
        for imported in imports_of(path):
            target = handler_package(imported.module)
            if target is not None and target != source:
                graph.setdefault(source, set()).add(target)
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


class TestTheCheckItself:
    """The check fails where it should: a channel importing another channel, the core a handler."""

    @pytest.mark.parametrize(
        ("module", "source", "offence"),
        [
            ("bot/example.py", "from admin.auth import operator_of\n", "bot may not import admin"),
            ("wxmember/core/example.py", "import handlers.points\n", "core may not import"),
            ("handlers/example.py", "def f():\n    from bot import texts\n", "handlers may not"),
            ("cards/example.py", "from miniapp_api import routes\n", "cards may not import"),
            ("jobs/example.py", "from wxmember import cli\n", "jobs may not import root"),
        ],
    )
    def test_an_import_against_the_layers_is_reported(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        module: str,
        source: str,
        offence: str,
    ) -> None:
        fake_root = tmp_path
        for top in OURS:
            (fake_root / top).mkdir(exist_ok=True)
        (fake_root / "wxmember" / "core").mkdir()
        target = fake_root / module
        target.write_text(source)
        monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
        [found] = violations([target])
        assert offence in found
        assert f"{module}:" in found

    def test_a_permitted_import_is_not_reported(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "bot").mkdir()
        target = tmp_path / "bot" / "example.py"
        target.write_text("from handlers import points\nfrom wxmember.core import errors\n")
        monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
        assert violations([target]) == []
