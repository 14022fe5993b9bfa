"""What a benchmark's steps share: the run's settings, the database, the seeded ladder, time."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from bench.jobs.bulk import Loader
from bench.jobs.ladder import Rung
from bench.jobs.setup import RunSettings
from wxmember.core.config import Config


@dataclass(frozen=True)
class Sizes:
    """How big a run is and how its data is shaped (None: the benchmark's default)."""

    members: int | None = None
    lots: int | None = None
    batch_size: int = 1000
    below_share: float = 0.3
    due_share: float = 0.2
    day: date | None = None
    history_years: int = 1
    ledger: int | None = None
    history_days: int = 365
    repeats: int = 5
    at_once: int | None = None


@dataclass
class Context:
    """One run, from the fresh database to the report."""

    run: RunSettings
    settings: dict[str, Any]
    config: Config
    conn: asyncpg.Connection
    loader: Loader
    rng: random.Random
    now: datetime
    today: date
    ladder: list[Rung]


@dataclass
class Prepared:
    """A seeded database: what the report shows, and what the job and the checks need."""

    parameters: dict[str, Any]
    seeded: dict[str, Any]
    params: dict[str, Any]
    tables: tuple[str, ...]
    state: Any = None
    notes: list[str] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)


def check(expected: Any, actual: Any) -> dict[str, Any]:
    """One verification line of a report."""
    return {"expected": expected, "actual": actual, "ok": expected == actual}
