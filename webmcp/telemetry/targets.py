"""Performance targets (`scaling.targets.p95_latency`, `error_rate`) over a sliding window.

Contract:
- `record()` is called once per observed call, on the event loop thread: one bisect and a few
  increments into the current second's slot of a ring of one-second slots.
- Once a second a background task sums the slots of the last `window` seconds: calls, failures
  (error, timeout, rejected), p50 and p95 of the call duration. A target that becomes violated is
  logged as a warning, one that recovers as an info line; /metrics and `webmcp status` read the
  last evaluation.
- Quantiles come from log-spaced buckets 10% apart: within 10% of the true value.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_RATIO = 1.1
LATENCY_BOUNDS = tuple(0.0001 * _RATIO**i for i in range(int(math.log(3600 / 0.0001, _RATIO)) + 1))


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # p95_latency | error_rate | max_memory
    goal: float
    value: float
    violated: bool


@dataclass(frozen=True, slots=True)
class Summary:
    seconds: float
    calls: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0


class _Slot:
    """One second of calls: how many, how many failed, and their durations by bucket."""

    __slots__ = ("calls", "counts", "failures", "second")

    def __init__(self) -> None:
        self.second = -1
        self.calls = self.failures = 0
        self.counts: list[int] = []

    def reset(self, second: int) -> None:
        self.second = second
        self.calls = self.failures = 0
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)


class Window:
    def __init__(self, seconds: float, p95_latency: float | None, error_rate: float | None) -> None:
        self.seconds = seconds
        self.p95_goal = p95_latency
        self.error_goal = error_rate
        self._n = max(1, math.ceil(seconds))
        self._slots = [_Slot() for _ in range(self._n)]
        self.violated: dict[str, bool] = {}
        self.last = Summary(seconds, 0, 0, None, None, None)
        self._task: asyncio.Task[None] | None = None

    def record(self, now: float, duration: float | None, failed: bool) -> None:
        """One call ended at `now`; `duration` is None for a call that never ran (refused)."""
        second = int(now)
        slot = self._slots[second % self._n]
        if slot.second != second:
            slot.reset(second)
        slot.calls += 1
        if failed:
            slot.failures += 1
        if duration is not None:
            slot.counts[bisect.bisect_left(LATENCY_BOUNDS, duration)] += 1

    def summary(self, now: float | None = None) -> Summary:
        second = int(time.perf_counter() if now is None else now)
        oldest = second - self._n + 1
        calls = failures = 0
        counts = [0] * (len(LATENCY_BOUNDS) + 1)
        for slot in self._slots:
            if oldest <= slot.second <= second:
                calls += slot.calls
                failures += slot.failures
                for i, c in enumerate(slot.counts):
                    if c:
                        counts[i] += c
        timed = sum(counts)
        p50, p95, p99 = (_quantile(counts, timed, q) for q in (0.5, 0.95, 0.99))
        return Summary(self.seconds, calls, failures, p50, p95, p99)

    def recent(self, now: float | None = None) -> list[list[Any]]:
        """The slots of the window, for another process to merge (`merge`): `[age in seconds, calls, failures,
        {bucket: count}]`, only the non-empty ones."""
        second = int(time.perf_counter() if now is None else now)
        return [[second - slot.second, slot.calls, slot.failures, {str(i): c for i, c in enumerate(slot.counts) if c}]
                for slot in self._slots if 0 <= second - slot.second < self._n and slot.calls]

    def targets(self) -> list[Target]:
        out = []
        if self.p95_goal is not None:
            out.append(Target("p95_latency", self.p95_goal, self.last.p95 or 0.0,
                              self.violated.get("p95_latency", False)))
        if self.error_goal is not None:
            out.append(Target("error_rate", self.error_goal, self.last.error_rate,
                              self.violated.get("error_rate", False)))
        return out

    def evaluate(self, now: float | None = None) -> None:
        self.last = summary = self.summary(now)
        checks = {"p95_latency": (self.p95_goal, summary.p95 or 0.0, _ms),
                  "error_rate": (self.error_goal, summary.error_rate, _percent)}
        for name, (goal, value, show) in checks.items():
            if goal is None:
                continue
            violated = value > goal
            if violated != self.violated.get(name, False):
                self.violated[name] = violated
                if violated:
                    log.warning("target violated: %s is %s over the last %gs (target %s, %d calls)",
                                name, show(value), self.seconds, show(goal), summary.calls)
                else:
                    log.info("target met again: %s is %s over the last %gs (target %s)",
                             name, show(value), self.seconds, show(goal))

    def start(self) -> Window:
        self._task = asyncio.get_running_loop().create_task(self._evaluate_every_second())
        return self

    async def _evaluate_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.evaluate()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def merge(recents: Iterable[Iterable[Sequence[Any]]], seconds: float) -> Summary:
    """One summary of the last `seconds` of several processes' windows (each one's `Window.recent()`):
    the calls of a whole server, for the targets and the autoscaler of a supervisor."""
    calls = failures = 0
    counts = [0] * (len(LATENCY_BOUNDS) + 1)
    for recent in recents:
        for age, slot_calls, slot_failures, buckets in recent:
            if age < seconds:
                calls += slot_calls
                failures += slot_failures
                for i, c in buckets.items():  # bucket indexes as strings (JSON keys)
                    counts[int(i)] += c
    timed = sum(counts)
    p50, p95, p99 = (_quantile(counts, timed, q) for q in (0.5, 0.95, 0.99))
    return Summary(seconds, calls, failures, p50, p95, p99)


def _quantile(counts: list[int], total: int, q: float) -> float | None:
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, c in enumerate(counts):
        if c and seen + c >= rank:
            low = LATENCY_BOUNDS[i - 1] if i > 0 else 0.0
            high = LATENCY_BOUNDS[i] if i < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1]
            return low + (high - low) * ((rank - seen) / c)  # linear within the bucket
        seen += c
    return LATENCY_BOUNDS[-1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2g}%"
