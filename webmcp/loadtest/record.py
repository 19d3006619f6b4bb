"""What a run measured: latencies in HdrHistograms (microseconds, 3 significant digits, up to an hour)
for the whole run, each tool, each stage and each second; outcomes; the driver's own lag.

Every call is recorded, failed ones included (a timed-out call at the time it gave up), so errors do
not make the latency figures look better. Recording is one `record_value` (under a microsecond) per
histogram and one counter increment.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Literal

from webmcp.loadtest.errors import MissingExtra

Outcome = Literal["ok", "jsonrpc_error", "is_error", "timeout", "transport_error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "jsonrpc_error", "is_error", "timeout", "transport_error")
HIGHEST_US = 3_600_000_000


def new_histogram() -> Any:
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        raise MissingExtra("hdrhistogram") from None
    return HdrHistogram(1, HIGHEST_US, 3)


def percentiles_ms(histogram: Any) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds: one pass over the counts (hdrh's per-percentile lookups and
    its mean walk the whole array each, tens of milliseconds that would stall the driver's loop)."""
    if histogram.get_total_count() == 0:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    values = histogram.get_percentile_to_value_dict([50, 95, 99])
    return {"p50": values[50] / 1000, "p95": values[95] / 1000, "p99": values[99] / 1000,
            "max": histogram.get_max_value() / 1000}


@dataclass
class Tally:
    """Calls of one slice of the run (all, a tool, a stage, a second): latencies and outcomes."""

    histogram: Any = field(default_factory=new_histogram)
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    total_us: float = 0.0  # for the mean, which the histogram would have to walk for

    def record(self, micros: int, outcome: Outcome) -> None:
        self.histogram.record_value(min(max(micros, 1), HIGHEST_US))
        self.outcomes[outcome] += 1
        self.total_us += micros

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return self.calls - self.outcomes["ok"]

    def figures(self, elapsed: float, histogram: bool = True) -> dict[str, Any]:
        calls, errors = self.calls, self.errors
        out: dict[str, Any] = {
            "calls": calls,
            "errors": errors,
            "error_rate": errors / calls if calls else 0.0,
            "throughput": round(calls / elapsed, 3) if elapsed > 0 else 0.0,
            "latency_ms": {**percentiles_ms(self.histogram),
                           "mean": round(self.total_us / calls / 1000, 3) if calls else 0.0},
            "outcomes": {name: self.outcomes[name] for name in OUTCOMES},
        }
        if histogram:
            out["histogram"] = self.histogram.encode().decode() if calls else None
        return out


class Recorder:
    """Tallies for the whole run, per tool, per stage and for the current second; the per-second timeline."""

    def __init__(self, tools: list[str], stages: int) -> None:
        self.total = Tally()
        self.tools = {name: Tally() for name in tools}
        self.stages = [Tally() for _ in range(stages)]
        self.second = Tally()
        self.timeline: list[dict[str, Any]] = []
        self.lag = new_histogram()  # open model: how late each call left against its schedule, µs
        self.samples: dict[Outcome, str] = {}  # the first message of each kind of failure
        self.in_flight = 0

    def record(self, tool: str, stage: int, seconds: float, outcome: Outcome, detail: str | None = None) -> None:
        micros = int(seconds * 1_000_000)
        for tally in (self.total, self.tools[tool], self.stages[stage], self.second):
            tally.record(micros, outcome)
        if detail is not None and outcome not in self.samples:
            self.samples[outcome] = detail[:300]

    def record_lag(self, seconds: float) -> None:
        self.lag.record_value(min(max(int(seconds * 1_000_000), 1), HIGHEST_US))

    def close_second(self, t: float, stage: int, target: float, readings: dict[str, Any]) -> dict[str, Any]:
        """End the current one-second window: append its figures to the timeline and return them."""
        second, self.second = self.second, Tally()
        row = {"t": round(t, 3), "stage": stage, "target": round(target, 3), "calls": second.calls,
               "errors": second.errors, "in_flight": self.in_flight, **percentiles_ms(second.histogram), **readings}
        self.timeline.append(row)
        return row
