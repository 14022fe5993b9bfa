"""The report of a run: the side-by-side table, and the same figures as markdown and JSON.

Reports are written to bench/reports/ (git-ignored) as `<UTC time>-<scenario>-<backend>.md` and
`.json`; the JSON has every figure, the status counts and the machine the run was made on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.cpu import DATABASE, REDIS, SERVER
from bench.load import LoadResult

HEADERS = (
    "scenario",
    "target",
    "rps",
    "p50 ms",
    "p99 ms",
    "cpu ms/req",
    "errors",
    "statuses",
)


@dataclass(frozen=True)
class Row:
    target: str
    result: LoadResult


@dataclass
class Report:
    scenario: str
    backend: str
    command: str
    started_at: str
    settings: dict[str, Any]
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "backend": self.backend,
            "command": self.command,
            "started_at": self.started_at,
            "settings": self.settings,
            "machine": self.machine,
            "results": [{"target": row.target, **row.result.to_json()} for row in self.rows],
            "notes": self.notes,
        }


def _cpu_cell(result: LoadResult) -> str:
    """The server's CPU per request, then the database's and Redis's (`1.05 + db 0.85 + redis
    0.02`)."""
    spent = result.cpu_ms_per_request()
    if SERVER not in spent:
        return "-"
    cell = f"{spent[SERVER]:.2f}"
    if DATABASE in spent:
        cell += f" + db {spent[DATABASE]:.2f}"
    if REDIS in spent:
        cell += f" + redis {spent[REDIS]:.2f}"
    return cell


def _cells(scenario: str, row: Row) -> tuple[str, ...]:
    result = row.result
    return (
        scenario,
        row.target,
        f"{result.rps:.0f}",
        f"{result.p50_ms:.1f}",
        f"{result.p99_ms:.1f}",
        _cpu_cell(result),
        str(result.errors),
        " ".join(f"{code}:{n}" for code, n in sorted(result.statuses.items())),
    )


def render_table(report: Report) -> str:
    """The plain-text table printed at the end of a run."""
    lines = [HEADERS, *(_cells(report.scenario, row) for row in report.rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    numeric = {2, 3, 4, 5, 6}
    out = []
    for line in lines:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    lines = [
        f"# Benchmark: {report.scenario} on {report.backend}",
        "",
        f"Run at {report.started_at} with `{report.command}`.",
        "",
        "| " + " | ".join(HEADERS) + " | requests | seconds |",
        "|" + "---|" * (len(HEADERS) + 2),
    ]
    for row in report.rows:
        extra = (str(row.result.requests), f"{row.result.seconds:.2f}")
        lines.append("| " + " | ".join((*_cells(report.scenario, row), *extra)) + " |")
    lines += ["", "## Settings", ""]
    lines += [f"- {key}: {value}" for key, value in report.settings.items()]
    lines += ["", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in report.machine.items()]
    lines += ["", "## Responses", ""]
    for row in report.rows:
        failures = row.result.failures or "none"
        lines.append(f"- {row.target}: statuses {row.result.statuses}, failures {failures}")
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def write_report(report: Report, directory: Path) -> tuple[Path, Path]:
    """Write the markdown and JSON files; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report.started_at).strftime("%Y%m%dT%H%M%SZ")
    stem = directory / f"{stamp}-{report.scenario}-{report.backend}"
    markdown, data = stem.with_suffix(".md"), stem.with_suffix(".json")
    markdown.write_text(render_markdown(report), encoding="utf-8")
    data.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    return markdown, data
