"""`--stress`: step the load up until the server breaks, on one server (its warm state carries over).

Each step holds one level for `hold` seconds: concurrent clients (closed model), or calls/s when
`--rate` is given (open model). Levels go from `start`, adding `step` or multiplying by it (`x2`), up to
`max`. A step holds when its own figures (not the run's so far) have errors <= 5%, p95 <= 5 s and, in the
open model, achieved >= 95% of the target rate; the first step that does not is the breaking point,
named with the signal that tripped, and stepping stops there. A server that exits breaks the step it
exits in. With `bisect: N`, up to N more steps halve the gap between the last good level and the
breaking point (stopping when they are one client, or 5% of the rate, apart); the tightest pair found is
reported. The steps stay in the order they ran, each marked `bisect` or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from webmcp.loadtest import report as reports
from webmcp.loadtest.errors import BenchUsageError
from webmcp.loadtest.scenario import Scenario, Stage
from webmcp.loadtest.workload import Stopper

MAX_ERROR_RATE = 0.05
MAX_P95_MS = 5000.0
MIN_ACHIEVED = 0.95


@dataclasses.dataclass(frozen=True, slots=True)
class StressPlan:
    start: float = 1
    step: str = "x2"
    max: float = 1024
    hold: float = 10.0
    bisect: int = 0

    def levels(self) -> Iterator[float]:
        """start, then each level plus (or times, with `xN`) the step, up to max."""
        try:
            factor = float(self.step[1:]) if self.step.startswith("x") else None
            increment = float(self.step.lstrip("+")) if factor is None else 0.0
        except ValueError:
            raise BenchUsageError(f"--stress-step {self.step!r}: a number to add (e.g. 50) or xN to multiply "
                                  "(e.g. x2)") from None
        if (factor is not None and factor <= 1) or (factor is None and increment <= 0):
            raise BenchUsageError(f"--stress-step {self.step!r}: the load must grow at each step")
        if self.start <= 0 or self.max < self.start:
            raise BenchUsageError(f"--stress-start {self.start:g} and --stress-max {self.max:g}: need 0 < start <= max")
        level = self.start
        while level <= self.max + 1e-9:
            yield level
            level = level * factor if factor is not None else level + increment


def judge(step: dict[str, Any], model: str, level: float) -> str | None:
    """The signal that broke this step, or None when it held."""
    if step["stopped_early"]:
        return f"server gone: {step['stopped_early']}"
    if step["error_rate"] > MAX_ERROR_RATE:
        return f"errors {step['error_rate']:.1%} > {MAX_ERROR_RATE:.0%}"
    if step["latency_ms"]["p95"] > MAX_P95_MS:
        return f"p95 {step['latency_ms']['p95']:g} ms > {MAX_P95_MS:g} ms"
    if model == "open" and step["throughput"] < MIN_ACHIEVED * level:
        return f"achieved {step['throughput']:g} calls/s < {MIN_ACHIEVED:.0%} of {level:g}"
    return None


async def stress(scenario: Scenario, plan: StressPlan, run_step: Callable[[Scenario], Any],
                 stopper: Stopper, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the steps (`run_step` runs one scenario on the open target and returns its report)."""
    steps: list[dict[str, Any]] = []
    step_reports: list[dict[str, Any]] = []
    closed = scenario.model == "closed"

    async def step(level: float, bisecting: bool) -> dict[str, Any]:
        load = float(round(level)) if closed else level
        say(f"bench: stress step {len(steps) + 1}{' (bisecting)' if bisecting else ''}: {load:g} "
            f"{'clients' if closed else 'calls/s'} for {plan.hold:g}s")
        result = await run_step(dataclasses.replace(scenario, stages=(Stage(plan.hold, load, load),)))
        step_reports.append(result)
        signal = judge(result, scenario.model, load)
        steps.append({"index": len(steps), "load": load, "model": scenario.model, "held": signal is None,
                      "signal": signal, "bisect": bisecting, **{key: result[key] for key in (
                          "calls", "errors", "error_rate", "throughput", "latency_ms", "outcomes")},
                      "server": result["server"]})
        return steps[-1]

    good: dict[str, Any] | None = None
    broken: dict[str, Any] | None = None
    for level in plan.levels():
        done = await step(level, False)
        if not done["held"]:
            broken = done
        else:
            good = done
        if broken is not None or stopper.interrupted:
            break
    for _ in range(plan.bisect):
        if good is None or broken is None or stopper.interrupted:
            break
        gap = broken["load"] - good["load"]
        if gap <= (1 if closed else 0.05 * broken["load"]):
            break
        done = await step(good["load"] + gap / 2, True)
        if done["held"]:
            good = done
        else:
            broken = done
    report = _combine(step_reports)
    report["stress"] = {"breaking_point": broken, "last_good": good, "steps": steps,
                        "rules": {"max_error_rate": MAX_ERROR_RATE, "max_p95_ms": MAX_P95_MS,
                                  "min_achieved": MIN_ACHIEVED if scenario.model == "open" else None},
                        "plan": dataclasses.asdict(plan)}
    return report


def _combine(step_reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The steps as one report: figures merged, one stage per step, the timelines end to end."""
    merged = reports.merge(step_reports)
    if len(step_reports) == 1:
        merged = dict(merged)
    merged.pop("runs", None)
    merged["stages"] = [{**run["stages"][0], "index": i} for i, run in enumerate(step_reports)]
    timeline, offset = [], 0.0
    for run in step_reports:
        timeline += [{**row, "t": round(row["t"] + offset, 3)} for row in run["timeline"]]
        offset += run["elapsed_s"]
    merged["timeline"] = timeline
    merged["driver"] = {**step_reports[-1]["driver"],
                        "warnings": sorted({w for run in step_reports for w in run["driver"]["warnings"]})}
    return merged


def render(stress: dict[str, Any]) -> str:
    unit = "clients" if stress["steps"] and stress["steps"][0]["model"] == "closed" else "calls/s"
    lines = [f"{'load':>10}  {'calls':>8} {'errors':>7} {'calls/s':>9} {'p95 ms':>9}  verdict"]
    for step in stress["steps"]:
        lines.append(f"{step['load']:>10g}  {step['calls']:>8,} {step['error_rate']:>7.1%} {step['throughput']:>9,.1f} "
                     f"{step['latency_ms']['p95']:>9g}  {'held' if step['held'] else 'BROKE: ' + step['signal']}")
    good, broken = stress["last_good"], stress["breaking_point"]
    last_good = f"{good['load']:g} {unit}" if good else "none"
    breaking = f"{broken['load']:g} {unit} ({broken['signal']})" if broken else "not reached"
    lines.append(f"last good: {last_good}; breaking point: {breaking}")
    return "\n".join(lines)
