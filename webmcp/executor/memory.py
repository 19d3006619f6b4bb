"""The memory guard: sheds new low-priority work before the process outgrows `max_memory`.

Contract:
- The resident set size (psutil) is sampled every 250 ms by one background task, never per call.
- From 90% of the limit the guard is `shedding`: new calls of the shed priority classes are refused
  at once (an isError "overloaded: memory" result); calls already admitted run on. Under 80% it
  recovers. The gap keeps it from flapping around one value.
- Transitions are logged: a warning when shedding starts, an info line when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psutil

log = logging.getLogger(__name__)

INTERVAL = 0.25
SHED_FROM = 0.9
RECOVER_UNDER = 0.8


def megabytes(n: float) -> str:
    return f"{n / 1e6:.0f}MB"


class MemoryGuard:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rss = 0
        self.shedding = False
        self.sheds = 0  # times shedding started
        self._process = psutil.Process()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> MemoryGuard:
        self.update(self._process.memory_info().rss)
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                self.update(self._process.memory_info().rss)
            except psutil.Error as exc:  # pragma: no cover - the process reading itself
                log.error("memory guard: cannot read memory use: %s", exc)

    def update(self, rss: int) -> None:
        self.rss = rss
        if not self.shedding and rss >= self.limit * SHED_FROM:
            self.shedding = True
            self.sheds += 1
            log.warning("memory %s of max_memory %s: refusing new calls of the shed priority classes",
                        megabytes(rss), megabytes(self.limit))
        elif self.shedding and rss < self.limit * RECOVER_UNDER:
            self.shedding = False
            log.info("memory %s of max_memory %s: taking all calls again", megabytes(rss), megabytes(self.limit))

    def message(self, priority: str) -> str:
        return (f"overloaded: memory {megabytes(self.rss)} of {megabytes(self.limit)} (scaling.targets.max_memory); "
                f"new {priority!r} priority calls are refused until it falls; try again later")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
