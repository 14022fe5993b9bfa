"""The report of a run: JSON with every figure, and markdown for people, side by side."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


def _table(rows: dict[str, Any], head: tuple[str, str] = ("", "")) -> list[str]:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in rows.items()]
    return lines + [""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _mib(kib: int | None) -> float | str:
    return "unavailable" if kib is None else round(kib / 1024, 1)


def measured(job: dict[str, Any]) -> dict[str, Any]:
    """The job process's time and memory, in the units people read."""
    process = job["process"]
    traced = job["tracemalloc_peak_kib"]
    return {
        "job seconds (measured)": job["seconds"],
        "peak RSS while the job ran, MiB (ru_maxrss)": _mib(job["job_peak_rss_kib"]),
        "RSS when the job started, MiB": _mib(job["rss_before_job_kib"]),
        "peak RSS of start-up, MiB": _mib(job["startup_peak_rss_kib"]),
        "peak RSS from job start to exit, MiB (wait4)": _mib(process["peak_rss_kib"]),
        "tracemalloc peak, MiB": "not traced" if traced is None else _mib(traced),
        "CPU user / system seconds (whole process)": (
            f"{process['user_seconds']} / {process['system_seconds']}"
        ),
        "process wall seconds incl. start-up": process["wall_seconds_with_startup"],
    }


def _check_row(name: str, check: dict[str, Any]) -> str:
    ok = "yes" if check["ok"] else "NO"
    return f"| {name} | {_cell(check['expected'])} | {_cell(check['actual'])} | {ok} |"


def _plans(plans: list[dict[str, Any]]) -> list[str]:
    lines = ["| query | plan | how it reads |", "|---|---|---|"]
    for plan in plans:
        for kind, text in plan["access"].items():
            lines.append(f"| {plan['title']} | {kind.replace('_', ' ')} | {text} |")
    lines.append("")
    for plan in plans:
        lines += [f"### {plan['title']}", "", "```sql", plan["sql"], "```", ""]
        lines += [f"Parameters: {', '.join(plan['params'])}", ""]
        for kind in ("custom", "generic", "after_warmup"):
            lines += [f"{kind.replace('_', ' ')} plan:", "", "```", plan[kind], "```", ""]
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown."""
    verification = report["verification"]
    lines = [
        f"# Job benchmark `{report['benchmark']}` — {report['started_at']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Load average (1/5/15 min): start {report['load_average']['start']}, "
        f"job start {report['load_average']['job start']}, end {report['load_average']['end']}",
        "",
        "## Figures",
        "",
        *_table(report["headline"]),
        *_table(measured(report["job"]), ("job process", "")),
        "## Seeding (not part of the measured time)",
        "",
        *_table({k: v for k, v in report["seeding"].items() if k != "rows"}),
        *_table(report["seeding"]["rows"], ("table", "rows")),
        "## Parameters and seeded data",
        "",
        *_table(report["parameters"]),
        *_table(report["seeded"]),
        f"## Verification: {'all checks passed' if verification['ok'] else 'FAILED'}",
        "",
        "| check | expected | actual | ok |",
        "|---|---|---|---|",
        *[_check_row(name, check) for name, check in verification["checks"].items()],
        "",
        "## Job details",
        "",
        "```json",
        json.dumps(report["job"]["result"], indent=2, ensure_ascii=False),
        "```",
        "",
        "## Query plans",
        "",
        *_plans(report["plans"]),
        "## Machine",
        "",
        *_table(report["machine"]),
        *_table(report["postgres"], ("PostgreSQL", "")),
        *[f"- {note}" for note in report["notes"]],
        "",
    ]
    return "\n".join(lines)


def write_report(report: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write `<time>-jobs-<benchmark>-<size>.md` and `.json`; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    size = report["parameters"].get("lots") or report["parameters"]["members"]
    stem = directory / f"{stamp}-jobs-{report['benchmark']}-{size}"
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return md, js
