"""Admission: how many calls run at once, and who goes next when they cannot all run.

Contract:
- At most `max_concurrency` calls run at once, and at most a tool's `concurrency` of that tool.
- A call that cannot run waits in its priority class's queue. When a slot frees, the next call comes
  from the class chosen by stride scheduling over the classes' weights (critical 8, high 4, normal 2,
  low 1 by default): higher classes go first in proportion, lower ones are never starved. A waiter
  whose tool is at its own cap is passed over, not dropped.
- Past `queue_limit` waiting calls, a new one is refused at once (Overloaded); a call that waits
  longer than `queue_timeout` gives up (QueueTimeout). Both become isError results naming the limit.
- A cancelled waiter leaves the queue; a slot is always given back, whatever ends the call.
- Fast path: with a free slot and nobody waiting, admission takes no await at all.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping
from dataclasses import dataclass

from webmcp.errors import ToolError

_STRIDE = 1 << 20


class Refused(ToolError):
    """A call turned away before it ran; `reason` labels it in metrics and spans."""

    reason = "refused"


class Overloaded(Refused):
    reason = "overloaded"


class QueueTimeout(Refused):
    reason = "queue_timeout"


@dataclass(slots=True)
class _Waiter:
    tool: str
    cap: int | None
    future: asyncio.Future[None]


class Admission:
    def __init__(
        self, max_concurrency: int, queue_limit: int, queue_timeout: float, weights: Mapping[str, int]
    ) -> None:
        self.max_concurrency = max_concurrency
        self.queue_limit = queue_limit
        self.queue_timeout = queue_timeout
        self.running = 0
        self.waiting = 0
        self.per_tool: collections.Counter[str] = collections.Counter()
        self._queues = {name: collections.deque[_Waiter]() for name in weights}
        self._stride = {name: _STRIDE // max(1, w) for name, w in weights.items()}
        self._pass = dict.fromkeys(weights, 0)

    def depths(self) -> dict[str, int]:
        """Calls waiting, by priority class."""
        return {name: len(queue) for name, queue in self._queues.items()}

    def _free(self, tool: str, cap: int | None) -> bool:
        return self.running < self.max_concurrency and (cap is None or self.per_tool[tool] < cap)

    def try_enter(self, tool: str, cap: int | None) -> bool:
        """Take a slot at once when one is free and nobody is waiting (the common case)."""
        if self.waiting == 0 and self._free(tool, cap):
            self.running += 1
            self.per_tool[tool] += 1
            return True
        return False

    async def enter(self, tool: str, cap: int | None, priority: str) -> None:
        """Wait for a slot in `priority`'s queue; Overloaded or QueueTimeout when it cannot be had."""
        if self.try_enter(tool, cap):
            return
        if self.waiting >= self.queue_limit:
            raise Overloaded(f"server overloaded: {self.queue_limit} calls already waiting (executor.queue_limit); "
                             "try again later")
        waiter = _Waiter(tool, cap, asyncio.get_running_loop().create_future())
        queue = self._queues[priority]
        if not any(self._queues.values()):
            # A class that was idle starts level with the busiest, not with a pile of saved-up credit.
            self._pass[priority] = max(self._pass.values())
        queue.append(waiter)
        self.waiting += 1
        self._grant()  # the waiters ahead may all be held by their own tools' caps while a slot is free
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.queue_timeout)
        except BaseException as exc:
            if waiter.future.done() and not waiter.future.cancelled():
                self.leave(tool)  # granted just as we gave up: hand the slot on
            else:
                waiter.future.cancel()
                queue.remove(waiter)
                self.waiting -= 1
            if isinstance(exc, TimeoutError):
                raise QueueTimeout(f"waited {self.queue_timeout:g}s for a free slot (executor.max_concurrency "
                                   f"{self.max_concurrency}, executor.queue_timeout); try again later") from None
            raise

    def leave(self, tool: str) -> None:
        self.running -= 1
        self.per_tool[tool] -= 1
        self._grant()

    def _grant(self) -> None:
        """Give free slots to waiters: pick classes by stride, skip waiters whose tool is at its cap."""
        while self.waiting and self.running < self.max_concurrency:
            chosen = None
            for name in sorted((n for n, q in self._queues.items() if q), key=lambda n: self._pass[n]):
                queue = self._queues[name]
                for waiter in queue:
                    if self._free(waiter.tool, waiter.cap):
                        chosen = name, waiter
                        break
                if chosen:
                    break
            if chosen is None:
                return  # every waiter's tool is at its own cap
            name, waiter = chosen
            self._queues[name].remove(waiter)
            self.waiting -= 1
            self._pass[name] += self._stride[name]
            self.running += 1
            self.per_tool[waiter.tool] += 1
            waiter.future.set_result(None)
