"""The per-call observation hook: one record per tool call, feeding metrics, the target window and
spans.

Contract:
- A Tool holds a `ToolWatch` only when something observes calls (telemetry.metrics, telemetry.spans,
  or a p95_latency / error_rate target); without one, Tool.call skips the hook entirely (one `is
  None` test per stage, no clock reads).
- A `Probe` per call, made on arrival; `Probe.admitted()` once the call holds its slot; `Probe.end()`
  exactly once with the outcome: ok, error (an isError result), timeout, invalid (arguments),
  rejected (with the reason: rate_limit, memory, overloaded, queue_timeout) or cancelled.
- Everything a ToolWatch updates was resolved when the Graph was built (the tool's counters and
  histogram, its priority's queue-wait histogram), so `end()` is a few increments and at most one
  list append; it runs on the event loop thread, like every call.
- `Probe.cache` is for the cache stage to fill ("hit", "miss", ...); it is carried into the span.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from webmcp.telemetry import stats
from webmcp.telemetry.spans import args_hash

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.telemetry.spans import SpanWriter
    from webmcp.telemetry.targets import Window

_FAILED = frozenset({"error", "timeout", "rejected"})


class OperationLabel(str):
    """How a master tool names one of its operations in messages ("'docs' operation 'search'"), also
    carrying the two names for spans. Built once per operation, so a call formats nothing."""

    master: str
    operation: str

    @classmethod
    def of(cls, master: str, operation: str) -> OperationLabel:
        label = cls(f"{master!r} operation {operation!r}")
        label.master = master
        label.operation = operation
        return label


class ToolWatch:
    __slots__ = ("_calls", "_duration", "_queue", "_spans", "_window", "generation", "name")

    def __init__(
        self, name: str, priority: str, generation: int, window: Window | None, spans: SpanWriter | None
    ) -> None:
        self.name = name
        self.generation = generation
        figures = stats.tool_stats(name)
        self._calls = figures.calls
        self._duration = figures.duration
        self._queue = stats.queue_wait(priority)
        self._window = window
        self._spans = spans


class Probe:
    __slots__ = ("_admitted", "arguments", "cache", "ctx", "label", "start", "watch")

    def __init__(self, watch: ToolWatch, arguments: dict[str, Any], ctx: Context, label: str | None,
                 start: float) -> None:
        self.watch = watch
        self.arguments = arguments
        self.ctx = ctx
        self.label = label
        self.start = start
        self._admitted = 0.0
        self.cache: str | None = None

    def admitted(self) -> None:
        self._admitted = perf_counter()

    def finish(self, outcome: str | None, result: dict[str, Any] | None) -> None:
        """end() for a call that ran: `outcome` when known, else from the result."""
        self.end(outcome or ("error" if result is None or result.get("isError") else "ok"))

    def end(self, outcome: str, reason: str | None = None) -> None:
        """Record the call once: counters, histograms, the targets window, the span."""
        now = perf_counter()
        watch = self.watch
        watch._calls[outcome] += 1
        start = self.start
        admitted = self._admitted
        total: float | None = None
        if admitted:
            total = now - start
            watch._duration.observe(total)
            watch._queue.observe(admitted - start)
        if reason is not None:
            stats.REJECTIONS[reason] = stats.REJECTIONS.get(reason, 0) + 1
        window = watch._window
        if window is not None and outcome != "invalid":
            window.record(now, total, outcome in _FAILED)
        spans = watch._spans
        if spans is not None:
            label = self.label
            if isinstance(label, OperationLabel):
                tool, operation = label.master, label.operation
            else:
                tool, operation = watch.name, None
            queued = admitted - start if admitted else 0.0
            ran = now - admitted if admitted else 0.0
            # The hash, not the arguments: a stalled disk must not keep every call's arguments alive.
            spans.add((start, tool, operation, args_hash(self.arguments), outcome, reason, queued, ran,
                       self.ctx.client, watch.generation, self.cache))
