"""Reports built from recorded calls: the pinned top level, merging repeats, the text summary and the page."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest

from webmcp.loadtest import html
from webmcp.loadtest.live import LiveView
from webmcp.loadtest.probe import Probe
from webmcp.loadtest.record import Recorder
from webmcp.loadtest.report import build, merge, summary
from webmcp.loadtest.scenario import compose
from webmcp.loadtest.workload import Tick

STARTED = datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC)


def one_run(latencies_ms: list[float], failures: int = 0) -> dict[str, Any]:
    scenario = compose(tool="echo", args='{"text": "hi"}', rate=10, duration="1s")
    recorder = Recorder(["echo"], 1)
    for ms in latencies_ms:
        recorder.record("echo", 0, ms / 1000, "ok")
    for _ in range(failures):
        recorder.record("echo", 0, 0.001, "is_error", "[{'type': 'text', 'text': 'no'}]")
    recorder.record_lag(0.0002)
    recorder.close_second(1.0, 0, 10.0, {"driver_cpu": 3.0})
    return build(scenario=scenario, target={"transport": "stdio", "endpoint": "srv", "protocol": "2025-11-25"},
                 recorder=recorder, probe=Probe(None), elapsed=1.0, interrupted=False, loop_lag_ms=0.5,
                 session_failures=0, started=STARTED)


def test_a_report_has_the_pinned_top_level_and_each_outcome() -> None:
    """calls, errors (a count), error_rate (a fraction), throughput (calls/s), latency_ms percentiles."""
    report = one_run([10.0] * 90 + [100.0] * 10, failures=2)
    assert (report["calls"], report["errors"], report["error_rate"], report["throughput"]) == (102, 2, 2 / 102, 102)
    assert report["latency_ms"]["p50"] == pytest.approx(10, rel=1e-3)  # HdrHistogram: 3 significant digits
    assert report["latency_ms"]["p99"] == pytest.approx(100, rel=1e-3)
    assert report["outcomes"] == {"ok": 100, "jsonrpc_error": 0, "is_error": 2, "timeout": 0, "transport_error": 0}
    assert report["tools"]["echo"]["calls"] == 102 and report["stages"][0]["calls"] == 102
    assert report["error_samples"] == {"is_error": "[{'type': 'text', 'text': 'no'}]"}
    assert report["server"] is None and report["driver"]["lag_ms"]["max"] < 1
    assert report["timeline"][0]["calls"] == 102


def test_repeats_merge_counts_and_histograms_and_keep_each_run() -> None:
    """Two runs: calls added, percentiles over both histograms, each run's own figures under `runs`."""
    merged = merge([one_run([10.0] * 100), one_run([30.0] * 100)])
    assert merged["calls"] == 200 and merged["throughput"] == 100
    assert merged["latency_ms"]["p50"] == pytest.approx(10, rel=1e-3)
    assert merged["latency_ms"]["p95"] == pytest.approx(30, rel=1e-3)
    assert merged["latency_ms"]["mean"] == 20.0
    assert [run["latency_ms"]["p50"] for run in merged["runs"]] == pytest.approx([10, 30], rel=1e-3)
    assert merged["tools"]["echo"]["calls"] == 200


def test_summary_and_page_say_the_figures() -> None:
    """The text summary and the HTML page carry the totals; the page fetches nothing."""
    report = one_run([10.0] * 100)
    text = summary(report)
    assert "calls 100  errors 0 (0.00%)  throughput 100.0 calls/s" in text
    assert "latency ms  p50 10.007  p95 10.007  p99 10.007  max 10.007" in text
    page = html.render(report, "threshold p95<500ms: ok")
    assert "<svg" in page and "threshold p95&lt;500ms: ok" in page and "<script" not in page


def test_the_page_of_a_stress_run_has_its_steps() -> None:
    """--stress --html: a table row per step, the broken one marked with its signal, and the step charts."""
    report = one_run([10.0] * 100)
    step = {"held": True, "signal": None, "throughput": 100.0, "error_rate": 0.0, "latency_ms": {"p95": 10.0}}
    report["stress"] = {"steps": [{**step, "index": 0, "load": 1.0},
                                  {**step, "index": 1, "load": 2.0, "held": False, "signal": "errors 9% > 5%"}],
                        "last_good": {**step, "load": 1.0}, "breaking_point": {**step, "load": 2.0,
                                                                               "signal": "errors 9% > 5%"}}
    page = html.render(report)
    assert "last good: 1 · breaking point: 2 (errors 9% &gt; 5%)" in page
    assert page.count("<tr") == 3 and '<tr class="broke">' in page and "by step" in page


def test_plain_progress_lines_when_not_a_terminal() -> None:
    """Off a terminal, one line a second: stage, time left, calls/s, p95, errors, driver lag."""
    recorder = Recorder(["echo"], 1)
    recorder.record("echo", 0, 0.002, "ok")
    recorder.record_lag(0.001)
    row = recorder.close_second(1.0, 0, 5.0, {"driver_cpu": 2.0})
    out = io.StringIO()
    with LiveView(out) as view:
        view.update(Tick(1.0, 10.0, 0, 2, 5.0, row, recorder))
    line = out.getvalue()
    assert line.startswith("bench:     1s of 10s, 9s left · stage 1/2 (target 5) · 1 calls/s · p95 2 ms (stage)")
    assert "lag p99 1 ms" in line
