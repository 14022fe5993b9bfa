"""How a scheduled job is declared: `@job(id=..., trigger=..., coalesce=..., max_instances=...)`.

Every job declares its id, its trigger (built from the config, in the brand's time zone),
`coalesce` (runs missed while the scheduler was down, paused or not the leader run once, not
once per missed slot) and `max_instances`, next to the function. The function gets a
`JobContext`: the services and `should_stop()`, which long jobs ask between units of work so
that a stopping process or a deposed leader finishes early.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from wxmember.core.config import Config
from wxmember.core.context import Services


@dataclass(frozen=True)
class JobContext:
    """What a job runs with."""

    services: Services
    should_stop: Callable[[], Awaitable[bool]]


JobFunction = Callable[[JobContext], Awaitable[Any]]
TriggerFactory = Callable[[Config], BaseTrigger]


@dataclass(frozen=True)
class Job:
    """A scheduled job: the function and how APScheduler runs it."""

    id: str
    func: JobFunction
    trigger: TriggerFactory
    coalesce: bool
    max_instances: int
    # None: a late run still happens however late it is (once, thanks to coalesce).
    misfire_grace_time: int | None = None

    async def __call__(self, ctx: JobContext) -> Any:
        async with ctx.services.members.recording_changes():
            return await self.func(ctx)


def job(
    *,
    id: str,
    trigger: TriggerFactory,
    coalesce: bool,
    max_instances: int,
    misfire_grace_time: int | None = None,
) -> Callable[[JobFunction], Job]:
    """Declare a scheduled job next to its function."""

    def declare(func: JobFunction) -> Job:
        return Job(id, func, trigger, coalesce, max_instances, misfire_grace_time)

    return declare
