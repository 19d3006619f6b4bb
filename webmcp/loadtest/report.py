"""The report of a run: the JSON document (`--json`) and the text summary printed at the end.

The JSON's top level is pinned (issue #15): `calls`, `errors` (a count), `error_rate` (a fraction),
`throughput` (calls/s) and `latency_ms: {p50, p95, p99, max}`; next to them `outcomes`, the encoded
HdrHistogram, `tools` and `stages` with the same figures each, `server` (memory, CPU), `driver` (its
CPU, lag and warnings), the per-second `timeline`, and with `--repeat` the figures of each run.
"""

from __future__ import annotations

import datetime
from typing import Any

from webmcp.loadtest.probe import Probe
from webmcp.loadtest.record import OUTCOMES, Recorder, Tally, new_histogram, percentiles_ms
from webmcp.loadtest.scenario import Scenario

SCHEMA = "webmcp-bench/1"
LAG_WARNING_MS = 10.0  # open model: calls leaving this late (p99) mean the driver could not keep the schedule
CPU_WARNING = 90.0  # % of one core: the driver is one event loop


def build(*, scenario: Scenario, target: dict[str, Any], recorder: Recorder, probe: Probe, elapsed: float,
          interrupted: bool, loop_lag_ms: float, session_failures: int, started: datetime.datetime,
          server_gone: str | None = None) -> dict[str, Any]:
    """Every figure of one run."""
    report: dict[str, Any] = {"schema": SCHEMA, "target": target, "scenario": scenario.description,
                              "started": started.isoformat(timespec="seconds"), "elapsed_s": round(elapsed, 3),
                              "interrupted": interrupted, "stopped_early": server_gone}
    report.update(recorder.total.figures(elapsed))
    report["tools"] = {name: tally.figures(elapsed) for name, tally in recorder.tools.items()}
    report["stages"] = [
        {"index": i, "label": stage.label, "duration_s": stage.duration, "start": stage.start, "end": stage.end,
         **tally.figures(stage.duration)}
        for i, (stage, tally) in enumerate(zip(scenario.stages, recorder.stages, strict=True))
    ]
    report["server"] = probe.summary()
    server_cpu, driver_cpu = probe.cpu_seconds()
    per_call = 1e6 / report["calls"] if report["calls"] else 0.0
    if report["server"] is not None:
        report["server"]["cpu_us_per_call"] = round(server_cpu * per_call, 1)
    cpu = probe.driver_cpu or [0.0]
    driver: dict[str, Any] = {"cpu_percent": {"mean": round(sum(cpu) / len(cpu), 1), "max": max(cpu)},
                              "cpu_us_per_call": round(driver_cpu * per_call, 1),
                              "loop_lag_ms_max": round(loop_lag_ms, 2), "session_failures": session_failures}
    if scenario.model == "open":
        lag = percentiles_ms(recorder.lag)
        driver["lag_ms"] = {key: lag[key] for key in ("p50", "p99", "max")}
    driver["warnings"] = _warnings(scenario, report, driver)
    if server_gone is not None:
        driver["warnings"].insert(0, f"the run stopped early: {server_gone}")
    report["driver"] = driver
    report["error_samples"] = dict(recorder.samples)
    report["timeline"] = recorder.timeline
    return report


def _warnings(scenario: Scenario, report: dict[str, Any], driver: dict[str, Any]) -> list[str]:
    out = []
    if scenario.model == "open":
        if driver["lag_ms"]["p99"] > LAG_WARNING_MS:
            out.append(f"the driver fell behind its schedule: p99 {driver['lag_ms']['p99']:g} ms late, max "
                       f"{driver['lag_ms']['max']:g} ms (latency still counts from the schedule)")
        planned = sum(s.duration * (s.start + s.end) / 2 for s in scenario.stages)
        if planned and not report["interrupted"] and report["calls"] < 0.95 * planned:
            out.append(f"only {report['calls']} of the {planned:.0f} scheduled calls were made")
    if driver["cpu_percent"]["mean"] >= CPU_WARNING:
        out.append(f"the driver used {driver['cpu_percent']['mean']:g}% of a core on average: it may be the "
                   "bottleneck (run it on another machine, or lower the load)")
    if driver["loop_lag_ms_max"] > 100:
        out.append(f"the driver's event loop stalled up to {driver['loop_lag_ms_max']:g} ms")
    if driver["session_failures"]:
        out.append(f"{driver['session_failures']} virtual clients could not open a session")
    return out


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One report for repeated runs of a scenario: counts added, histograms merged, each run's figures kept."""
    if len(runs) == 1:
        return runs[0]
    elapsed = sum(run["elapsed_s"] for run in runs)
    merged = {key: runs[-1][key] for key in ("schema", "target", "scenario", "started")}
    merged.update({"elapsed_s": round(elapsed, 3), "interrupted": any(run["interrupted"] for run in runs),
                   "stopped_early": next((run["stopped_early"] for run in runs if run["stopped_early"]), None)})
    merged.update(_merge_figures(runs, elapsed))
    merged["tools"] = {name: _merge_figures([run["tools"][name] for run in runs], elapsed) for name in runs[0]["tools"]}
    merged["stages"] = [
        {**{k: v for k, v in stage.items() if k in ("index", "label", "duration_s", "start", "end")},
         **_merge_figures([run["stages"][i] for run in runs], stage["duration_s"] * len(runs))}
        for i, stage in enumerate(runs[0]["stages"])
    ]
    servers = [run["server"] for run in runs if run["server"]]
    merged["server"] = servers[-1] if servers else None
    if servers:
        merged["server"] = {**servers[-1], "rss_mb": {**servers[-1]["rss_mb"],
                                                      "max": max(s["rss_mb"]["max"] for s in servers)}}
    merged["driver"] = {"warnings": sorted({w for run in runs for w in run["driver"]["warnings"]})}
    merged["runs"] = [{key: run[key] for key in ("started", "elapsed_s", "calls", "errors", "error_rate", "throughput",
                                                 "latency_ms", "server", "driver")} for run in runs]
    return merged


def _merge_figures(parts: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    tally = Tally(histogram=new_histogram())
    for part in parts:
        if part.get("histogram"):
            tally.histogram.decode_and_add(part["histogram"])
        for name in OUTCOMES:
            tally.outcomes[name] += part["outcomes"][name]
        tally.total_us += part["latency_ms"]["mean"] * part["calls"] * 1000
    return tally.figures(elapsed)


def summary(report: dict[str, Any]) -> str:
    """The end-of-run text: totals, per tool, per stage, server and driver, warnings."""
    lat = report["latency_ms"]
    scenario = report["scenario"]
    runs = len(report.get("runs", [])) or 1
    lines = [
        f"webmcp bench: {report['target']['transport']} {report['target']['endpoint']} · {scenario['model']} model · "
        f"{report['elapsed_s']:.1f} s{f' over {runs} runs' if runs > 1 else ''}"
        + (" · INTERRUPTED" if report["interrupted"] else ""),
        f"calls {report['calls']:,}  errors {report['errors']:,} ({report['error_rate']:.2%})  "
        f"throughput {report['throughput']:,.1f} calls/s",
        f"latency ms  p50 {lat['p50']:g}  p95 {lat['p95']:g}  p99 {lat['p99']:g}  max {lat['max']:g}",
        "outcomes: " + " · ".join(f"{name} {count:,}" for name, count in report["outcomes"].items()),
    ]
    rows = [(name, figures) for name, figures in report["tools"].items()]
    if len(rows) > 1:
        lines.append(_table("tool", rows))
    stages = [(f"{s['index'] + 1}: {s['label']}", s) for s in report["stages"]]
    if len(stages) > 1:
        lines.append(_table("stage", stages))
    if report["server"]:
        server = report["server"]
        lines.append(f"server pid {server['pid']}: RSS max {server['rss_mb']['max']:g} MB (first "
                     f"{server['rss_mb']['first']:g}, last {server['rss_mb']['last']:g}), CPU mean "
                     f"{server['cpu_percent']['mean']:g}% of a core, {server['cpu_us_per_call']:g} µs per call")
    driver = report["driver"]
    if "cpu_percent" in driver:
        text = (f"driver: CPU mean {driver['cpu_percent']['mean']:g}% of a core, "
                f"{driver['cpu_us_per_call']:g} µs per call")
        if "lag_ms" in driver:
            text += f", schedule lag p99 {driver['lag_ms']['p99']:g} ms"
        lines.append(text)
    for sample, detail in report.get("error_samples", {}).items():
        lines.append(f"first {sample}: {detail}")
    lines.extend(f"WARNING: {warning}" for warning in driver["warnings"])
    return "\n".join(lines)


def _table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    width = max(len(title), *(len(name) for name, _ in rows))
    head = f"{title:<{width}}  {'calls':>8} {'errors':>7} {'calls/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    body = [f"{name:<{width}}  {f['calls']:>8,} {f['errors']:>7,} {f['throughput']:>9,.1f} "
            f"{f['latency_ms']['p50']:>9g} {f['latency_ms']['p95']:>9g} {f['latency_ms']['p99']:>9g}"
            for name, f in rows]
    return "\n".join([head, *body])
