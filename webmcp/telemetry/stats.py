"""Per-call figures as plain Python numbers: what the observation hook updates and what /metrics
and `webmcp status` read.

Contract: updated from the event loop thread only (the hook runs there), so no locks; kept for the
whole process (keyed by tool name and priority class), so counters never go back across reloads.
prometheus_client is not imported here: a server that is never scraped never loads it.
"""

from __future__ import annotations

import bisect
import time

OUTCOMES = ("ok", "error", "timeout", "invalid", "rejected", "cancelled", "input_required")
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """Bucket counts (the last one is +Inf) and the sum, for one label set."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BOUNDS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(BOUNDS, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, BOUNDS), "+Inf"), self.buckets, strict=True):
            running += count
            out.append((bound, running))
        return out


class ToolStats:
    __slots__ = ("calls", "duration")

    def __init__(self) -> None:
        self.calls = dict.fromkeys(OUTCOMES, 0)
        self.duration = Histogram()


TOOLS: dict[str, ToolStats] = {}
QUEUE_WAIT: dict[str, Histogram] = {}
REJECTIONS: dict[str, int] = {}
SPANS_DROPPED = [0]
ALERTS = {"sent": 0, "failed": 0, "dropped": 0}  # webhook deliveries, failed attempts, alerts given up

RELOADS = {"ok": 0, "failed": 0}
DEPRECATED_CALLS: dict[str, int] = {}  # tool name -> calls of it while deprecated (refused ones included)
STARTED = time.time()


def tool_stats(name: str) -> ToolStats:
    stats = TOOLS.get(name)
    if stats is None:
        stats = TOOLS[name] = ToolStats()
    return stats


def queue_wait(priority: str) -> Histogram:
    found = QUEUE_WAIT.get(priority)
    if found is None:
        found = QUEUE_WAIT[priority] = Histogram()
    return found


def reloaded(ok: bool) -> None:
    RELOADS["ok" if ok else "failed"] += 1
