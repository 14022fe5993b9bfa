"""CPU-bound work off the event loop: a small pool of worker processes.

Drawing a card face takes tens of milliseconds of Pillow work that holds the GIL for much of
it; in a thread it still stalls every other request of the process. `CpuPool.run(func, ...)`
sends the call to a worker process instead, so the event loop only waits for the answer.

- Workers are started with "spawn" (a fork of a process running an event loop, database and
  Redis connections is not safe) and only when first needed; `func` and its arguments must be
  importable and picklable.
- An exception raised by `func` reaches the caller as itself. A worker that dies (killed, out of
  memory) breaks the pool: that call fails with `CpuPoolBroken`, the pool is replaced, and the
  next call runs on fresh workers.
- `close()` (from the app's cleanup context) stops the workers and waits for them, so no
  process outlives the service.
- With `processes = 0` calls run in a thread instead (platforms without process pools, or to
  save memory on a very small machine).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class CpuPoolBroken(RuntimeError):
    """A worker process died during the call; the pool has been replaced."""


class CpuPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("the CPU pool is closed")
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    async def run(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`func(*args, **kwargs)` in a worker process (or a thread with no processes)."""
        if self.processes == 0:
            return await asyncio.to_thread(func, *args, **kwargs)
        pool = self._executor()
        loop = asyncio.get_running_loop()
        try:
            if kwargs:
                return await loop.run_in_executor(pool, _call, func, args, kwargs)
            return await loop.run_in_executor(pool, func, *args)
        except BrokenProcessPool:
            log.error("a CPU worker process died; starting a new pool")
            self._replace(pool)
            raise CpuPoolBroken("A worker process died during the call.") from None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._pool is broken:
            self._pool = None
            broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The worker processes running now."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return [process.pid for process in processes.values() if process.pid is not None]

    async def close(self) -> None:
        """Stop the workers and wait for them to exit."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _call(func: Callable[..., R], args: tuple[object, ...], kwargs: dict[str, object]) -> R:
    return func(*args, **kwargs)
