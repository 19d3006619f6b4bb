"""Progress while a run goes: a rich live panel on a terminal, plain lines on stderr otherwise (a CI log,
a pipe). Both show the stage, time left, calls/s, p95, errors and the server's and driver's readings."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

from webmcp.loadtest.record import percentiles_ms
from webmcp.loadtest.report import LAG_WARNING_MS
from webmcp.loadtest.workload import Tick


def describe(tick: Tick) -> list[str]:
    """The figures of one second, as short phrases."""
    row, recorder = tick.row, tick.recorder
    total = recorder.total
    stage = recorder.stages[tick.stage]
    parts = [
        f"{tick.elapsed:5.0f}s of {tick.duration:g}s, {max(0.0, tick.duration - tick.elapsed):.0f}s left",
        f"stage {tick.stage + 1}/{tick.stages} (target {tick.target:g})",
        f"{row['calls']:,} calls/s",
        f"p95 {percentiles_ms(stage.histogram)['p95']:g} ms (stage)",
        f"errors {total.errors:,} ({total.errors / total.calls if total.calls else 0:.2%})",
        f"in flight {row['in_flight']}",
    ]
    if "rss_mb" in row:
        parts.append(f"server {row['rss_mb']:g} MB, CPU {row['server_cpu']:g}%")
    driver = f"driver CPU {row['driver_cpu']:g}%"
    if recorder.lag.get_total_count():
        driver += f", lag p99 {percentiles_ms(recorder.lag)['p99']:g} ms"
    parts.append(driver)
    return parts


class LiveView:
    """A context manager fed one Tick a second."""

    def __init__(self, stream: TextIO | None = None, every: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self.live: Any = None
        self.last = -1e9
        self.warned = False

    def __enter__(self) -> LiveView:
        if self.stream.isatty():
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:
                return self  # plain lines: a trimmed install without rich still runs
            self.live = Live(console=Console(file=self.stream), refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.__exit__(kind, exc, tb)
            self.live = None

    def update(self, tick: Tick) -> None:
        lag = tick.recorder.lag
        late = percentiles_ms(lag)["p99"] if not self.warned and lag.get_total_count() else 0.0
        if late > LAG_WARNING_MS:
            self.warned = True
            self.say(f"bench: WARNING: the driver is falling behind its schedule (p99 {late:g} ms late); latency "
                     "still counts from the schedule, but the server sees a lower rate")
        parts = describe(tick)
        if self.live is not None:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_row(*parts[:3])
            table.add_row(*parts[3:6])
            table.add_row(*parts[6:])
            self.live.update(table)
            return
        if tick.elapsed - self.last >= self.every - 0.05:
            self.last = tick.elapsed
            print("bench: " + " · ".join(parts), file=self.stream, flush=True)

    def say(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text)
        else:
            print(text, file=self.stream, flush=True)
