"""Verdicts on a report: k6-style thresholds, and the comparison with a baseline report.

Thresholds: `METRIC OP VALUE`, OP one of < <= > >=.
    p50 p95 p99 max   a latency: 500ms, 2s, 800us (a bare number is milliseconds)
    errors            `0.1%` compares the error rate; a bare number, the count of failed calls
    throughput        calls/s: `throughput>200` (or 200/s)

Baseline: each metric of the current run(s) against the baseline report's, with a tolerance in the
direction that is worse: latency p50/p95/p99 +10%, throughput -5%, server memory (RSS max) +20%,
error rate +1 percentage point. Significance: when both reports hold several runs (both made with
`--repeat`), a metric regresses when a one-sided Mann-Whitney U test (scipy, exact for small samples)
finds the current runs worse than the baseline's runs moved by the tolerance, at p <= ALPHA: with 3
runs against 3 that takes every current run worse than every moved baseline run. Against a baseline of
one run, the sign rule: every current run worse than the baseline beyond its tolerance. Either way one
noisy run cannot fail the gate.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webmcp.config.units import parse_duration
from webmcp.loadtest.errors import BenchUsageError

_THRESHOLD = re.compile(r"^\s*(p50|p95|p99|max|errors|throughput)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                   ">=": operator.ge}
TOLERANCES = {"latency": 0.10, "throughput": 0.05, "memory": 0.20, "errors": 0.01}
ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    metric: str  # p50 p95 p99 max (ms) | error_rate | errors | throughput
    op: str
    limit: float

    def actual(self, report: dict[str, Any]) -> float:
        if self.metric in ("p50", "p95", "p99", "max"):
            return float(report["latency_ms"][self.metric])
        return float(report[self.metric])

    def check(self, report: dict[str, Any]) -> dict[str, Any]:
        actual = self.actual(report)
        return {"threshold": self.text, "metric": self.metric, "actual": actual, "limit": self.limit,
                "ok": _OPS[self.op](actual, self.limit)}


def parse_threshold(text: str) -> Threshold:
    m = _THRESHOLD.match(text)
    if m is None:
        raise BenchUsageError(f"--threshold {text!r}: write METRIC OP VALUE, e.g. 'p95<500ms', 'errors<0.1%', "
                              "'throughput>100'; metrics: p50 p95 p99 max errors throughput")
    metric, op, value = m.groups()
    try:
        if metric == "errors" and value.endswith("%"):
            return Threshold(text, "error_rate", op, float(value[:-1]) / 100)
        if metric == "errors":
            return Threshold(text, "errors", op, float(value))
        if metric == "throughput":
            return Threshold(text, "throughput", op, float(value.removesuffix("/s")))
        if value.endswith("us"):
            return Threshold(text, metric, op, float(value[:-2]) / 1000)
        if re.fullmatch(r"[0-9.]+", value):
            return Threshold(text, metric, op, float(value))
        return Threshold(text, metric, op, parse_duration(value) * 1000)
    except ValueError:
        raise BenchUsageError(f"--threshold {text!r}: {value!r} is not a "
                              f"{'latency like 500ms or 2s' if metric.startswith(('p', 'm')) else 'number'}") from None


def check_thresholds(report: dict[str, Any], thresholds: list[Threshold]) -> list[dict[str, Any]]:
    return [threshold.check(report) for threshold in thresholds]


def _metrics(report: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """metric → (kind of tolerance, value) for the metrics a report has."""
    out = {name: ("latency", float(report["latency_ms"][name])) for name in ("p50", "p95", "p99")}
    out["throughput"] = ("throughput", float(report["throughput"]))
    out["error_rate"] = ("errors", float(report["error_rate"]))
    if report.get("server"):
        out["rss_mb"] = ("memory", float(report["server"]["rss_mb"]["max"]))
    return out


def _moved(kind: str, base: float, tolerance: float) -> float:
    """The baseline value moved by its tolerance in the direction that is worse: the edge of acceptable."""
    if kind == "errors":
        return base + tolerance
    return base * (1 - tolerance) if kind == "throughput" else base * (1 + tolerance)


def _is_worse(kind: str, base: float, value: float, tolerance: float) -> bool:
    edge = _moved(kind, base, tolerance)
    return value < edge if kind == "throughput" else value > edge


def _mann_whitney(kind: str, current: list[float], edges: list[float]) -> float:
    """One-sided p of "the current runs are worse than the moved baseline runs"."""
    from scipy.stats import mannwhitneyu

    alternative = "less" if kind == "throughput" else "greater"
    return float(mannwhitneyu(current, edges, alternative=alternative, method="exact").pvalue)


def compare(report: dict[str, Any], baseline: dict[str, Any],
            tolerances: dict[str, float] = TOLERANCES) -> list[dict[str, Any]]:
    """One row per metric both reports have: baseline, current, change, and whether it regressed."""
    runs = report.get("runs") or [report]
    base_metrics = _metrics(baseline)
    current = _metrics(report)
    per_run = [_metrics(run) for run in runs]
    base_runs = [_metrics(run) for run in baseline.get("runs") or [baseline]]
    rows = []
    for name, (kind, base) in base_metrics.items():
        if name not in current:
            continue
        tolerance = tolerances[kind]
        value = current[name][1]
        worse = sum(1 for m in per_run if name in m and _is_worse(kind, base, m[name][1], tolerance))
        values = [m[name][1] for m in per_run if name in m]
        edges = [_moved(kind, m[name][1], tolerance) for m in base_runs if name in m]
        if kind == "errors":
            change = f"{(value - base) * 100:+.2f} points"
            allowed = f"+{tolerance * 100:g} points"
        else:
            change = f"{(value - base) / base:+.1%}" if base else "n/a"
            allowed = f"{'-' if kind == 'throughput' else '+'}{tolerance:.0%}"
        row: dict[str, Any] = {"metric": name, "baseline": base, "current": value, "change": change,
                               "tolerance": allowed, "worse_runs": worse, "runs": len(per_run)}
        if len(values) > 1 and len(edges) > 1:
            row["test"], row["p"] = "mann-whitney", _mann_whitney(kind, values, edges)
            regressed = row["p"] <= ALPHA
        else:
            row["test"], regressed = "sign", worse == len(per_run)
        row["regressed"] = regressed and (kind == "errors" or base > 0)
        rows.append(row)
    return rows


def render(thresholds: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> str:
    lines = []
    for row in thresholds:
        unit = " ms" if row["metric"] in ("p50", "p95", "p99", "max") else ""
        lines.append(f"threshold {row['threshold']}: {'ok' if row['ok'] else 'FAILED'} "
                     f"({row['metric']} = {row['actual']:g}{unit})")
    for row in baseline:
        verdict = "REGRESSED" if row["regressed"] else "ok"
        test = f", Mann-Whitney p = {row['p']:.3f}" if row.get("test") == "mann-whitney" else ""
        lines.append(f"baseline {row['metric']}: {row['baseline']:g} → {row['current']:g} ({row['change']}, "
                     f"tolerance {row['tolerance']}, worse in {row['worse_runs']}/{row['runs']} runs{test}): {verdict}")
    return "\n".join(lines)
