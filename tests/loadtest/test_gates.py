"""Threshold expressions and the baseline comparison, on report documents."""

from __future__ import annotations

from typing import Any

import pytest

from webmcp.loadtest import soak
from webmcp.loadtest.errors import BenchUsageError
from webmcp.loadtest.gates import check_thresholds, compare, parse_threshold
from webmcp.loadtest.stress import judge


def report(p95: float = 100.0, throughput: float = 200.0, error_rate: float = 0.0, rss: float | None = 50.0,
           runs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5, "max": p95 * 2},
                           "throughput": throughput, "error_rate": error_rate, "errors": int(error_rate * 1000),
                           "calls": 1000, "server": {"rss_mb": {"max": rss}} if rss is not None else None}
    if runs is not None:
        out["runs"] = runs
    return out


@pytest.mark.parametrize(("text", "metric", "op", "limit"), [
    ("p95<500ms", "p95", "<", 500.0),
    ("p99 <= 2s", "p99", "<=", 2000.0),
    ("max<800us", "max", "<", 0.8),
    ("p50<20", "p50", "<", 20.0),
    ("errors<0.1%", "error_rate", "<", 0.001),
    ("errors<=3", "errors", "<=", 3.0),
    ("throughput>100", "throughput", ">", 100.0),
    ("throughput>=50/s", "throughput", ">=", 50.0),
])
def test_thresholds_parse(text: str, metric: str, op: str, limit: float) -> None:
    """Latencies in ms (units allowed), errors as a rate with % or a count, throughput in calls/s."""
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.op, threshold.limit) == (metric, op, pytest.approx(limit))


@pytest.mark.parametrize(("text", "message"), [
    ("p90<1s", "write METRIC OP VALUE"),
    ("p95<fast", "'fast' is not a latency like 500ms or 2s"),
    ("throughput>lots", "'lots' is not a number"),
])
def test_bad_thresholds_say_the_grammar(text: str, message: str) -> None:
    """A threshold that does not parse is a usage error naming it."""
    with pytest.raises(BenchUsageError, match=message):
        parse_threshold(text)


def test_thresholds_pass_and_fail() -> None:
    """Each threshold is checked against the report's figure and says the actual value."""
    rows = check_thresholds(report(p95=120, error_rate=0.002), [parse_threshold(t) for t in (
        "p95<500ms", "p95<100ms", "errors<0.1%", "throughput>100")])
    assert [(r["threshold"], r["ok"]) for r in rows] == [("p95<500ms", True), ("p95<100ms", False),
                                                          ("errors<0.1%", False), ("throughput>100", True)]
    assert rows[1]["actual"] == 120


def test_baseline_within_tolerance_passes() -> None:
    """+9% latency, -4% throughput, +19% memory, +0.9 points of errors: all within the defaults."""
    rows = compare(report(p95=109, throughput=192, rss=59.5, error_rate=0.009), report())
    assert not any(r["regressed"] for r in rows)
    assert {r["metric"] for r in rows} == {"p50", "p95", "p99", "throughput", "error_rate", "rss_mb"}


def test_baseline_beyond_tolerance_regresses() -> None:
    """+11% latency, -6% throughput, +21% memory, +1.1 points of errors: each one regressed."""
    rows = compare(report(p95=111, throughput=188, rss=60.5, error_rate=0.011), report())
    assert {r["metric"] for r in rows if r["regressed"]} == {"p50", "p95", "p99", "throughput", "error_rate", "rss_mb"}
    p95 = next(r for r in rows if r["metric"] == "p95")
    assert (p95["change"], p95["tolerance"]) == ("+11.0%", "+10%")


def test_baseline_regression_must_show_in_every_repeat() -> None:
    """With repeats, a metric regresses only when every run is worse beyond its tolerance."""
    noisy = report(p95=130, runs=[report(p95=150), report(p95=105)])
    assert not next(r for r in compare(noisy, report()) if r["metric"] == "p95")["regressed"]
    steady = report(p95=130, runs=[report(p95=125), report(p95=135)])
    row = next(r for r in compare(steady, report()) if r["metric"] == "p95")
    assert row["regressed"] and (row["worse_runs"], row["runs"]) == (2, 2)


def test_repeated_runs_on_both_sides_are_judged_by_a_mann_whitney_test() -> None:
    """Three runs against three: a regression needs every current run worse than every baseline run moved by
    the tolerance (exact one-sided p = 1/20); one overlap, and it is only reported."""
    base = report(p95=100, runs=[report(p95=95), report(p95=100), report(p95=105)])
    slower = report(p95=130, runs=[report(p95=120), report(p95=125), report(p95=131)])
    row = next(r for r in compare(slower, base) if r["metric"] == "p95")
    assert row["test"] == "mann-whitney" and row["p"] == pytest.approx(0.05) and row["regressed"]
    overlap = report(p95=120, runs=[report(p95=112), report(p95=125), report(p95=131)])  # 112 < 105 x 1.1
    row = next(r for r in compare(overlap, base) if r["metric"] == "p95")
    assert row["p"] > 0.05 and not row["regressed"]
    faster = report(throughput=150, runs=[report(throughput=150), report(throughput=151), report(throughput=149)])
    base_t = report(runs=[report(throughput=199), report(throughput=200), report(throughput=201)])
    row = next(r for r in compare(faster, base_t) if r["metric"] == "throughput")
    assert row["regressed"] and row["test"] == "mann-whitney"


def test_memory_is_compared_only_when_both_reports_have_it() -> None:
    """A report without the server's pid has no memory figure: the comparison leaves memory out."""
    assert "rss_mb" not in {r["metric"] for r in compare(report(rss=None), report())}


@pytest.mark.parametrize(("step", "model", "level", "signal"), [
    ({"error_rate": 0.05, "p95": 4999, "throughput": 95}, "open", 100, None),
    ({"error_rate": 0.06, "p95": 10, "throughput": 100}, "closed", 8, "errors 6.0% > 5%"),
    ({"error_rate": 0.0, "p95": 5001, "throughput": 100}, "closed", 8, "p95 5001 ms > 5000 ms"),
    ({"error_rate": 0.0, "p95": 10, "throughput": 94}, "open", 100, "achieved 94 calls/s < 95% of 100"),
    ({"error_rate": 0.0, "p95": 10, "throughput": 3}, "closed", 100, None),  # no target rate in the closed model
])
def test_a_stress_step_holds_or_names_what_broke_it(step: dict[str, float], model: str, level: float,
                                                     signal: str | None) -> None:
    """errors <= 5%, p95 <= 5 s and, open model, achieved >= 95% of the rate; else the signal that tripped."""
    figures = {"stopped_early": None, "error_rate": step["error_rate"], "latency_ms": {"p95": step["p95"]},
               "throughput": step["throughput"]}
    assert judge(figures, model, level) == signal


def test_soak_trend_leaves_out_the_warm_up() -> None:
    """The least-squares slope after the warm-up, in MB/h: a fast start does not count, a steady rise does."""
    flat = [{"t": t, "rss_mb": 100.0 if t >= 10 else 50.0 + 5 * t} for t in range(60)]
    verdict = soak.judge({"timeline": flat}, warmup=10, max_growth=10)
    assert verdict["ok"] and verdict["slope_mb_per_hour"] == 0 and verdict["samples"] == 50
    rising = [{"t": t, "rss_mb": 100.0 + t / 360} for t in range(60)]  # 10 MB/h
    assert soak.judge({"timeline": rising}, warmup=0, max_growth=9.9)["reason"] == "memory grows 10.0 MB/h > 9.9 MB/h"
    assert not soak.judge({"timeline": rising[:2]}, warmup=0, max_growth=10)["ok"]
