"""The sliding window behind p95_latency and error_rate targets."""

from __future__ import annotations

import logging

import orjson
import pytest

from webmcp.telemetry.targets import Window, merge


def test_quantiles_and_error_rate_over_the_window() -> None:
    """p50/p95 come within 10% of the true values; refused calls count as failures but carry no duration."""
    window = Window(10, p95_latency=0.5, error_rate=0.01)
    for i in range(100):
        window.record(1000.5, 0.001 * (i + 1), failed=False)  # 1 ms .. 100 ms
    window.record(1000.5, None, failed=True)
    s = window.summary(1000.9)
    assert s.calls == 101 and s.failures == 1
    assert s.p50 == pytest.approx(0.050, rel=0.1) and s.p95 == pytest.approx(0.095, rel=0.1)
    assert s.error_rate == pytest.approx(1 / 101)


def test_old_seconds_leave_the_window() -> None:
    """Calls older than the window are not counted; a slot is reused for a new second."""
    window = Window(3, None, None)
    window.record(100.0, 0.1, False)
    window.record(102.0, 0.2, True)
    assert window.summary(102.5).calls == 2
    assert window.summary(103.0).calls == 1
    window.record(103.0, 0.3, False)  # the slot of second 100
    assert (window.summary(103.0).calls, window.summary(103.0).failures) == (2, 1)
    assert window.summary(200.0).calls == 0 and window.summary(200.0).p95 is None


def test_violations_are_logged_once_when_they_start_and_when_they_end(caplog: pytest.LogCaptureFixture) -> None:
    """A warning when a target becomes violated, an info line when it is met again; no repeats."""
    caplog.set_level(logging.INFO, "webmcp.telemetry.targets")
    window = Window(2, p95_latency=0.1, error_rate=0.5)
    window.record(10.0, 0.3, False)
    window.evaluate(10.0)
    window.evaluate(10.5)
    assert [t.violated for t in window.targets()] == [True, False]
    window.evaluate(20.0)  # the slow call left the window
    assert [t.name for t in window.targets()] == ["p95_latency", "error_rate"]
    assert not any(t.violated for t in window.targets())
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [
        ("WARNING", f"target violated: p95_latency is {window_p95(0.3)}ms over the last 2s (target 100ms, 1 calls)"),
        ("INFO", "target met again: p95_latency is 0ms over the last 2s (target 100ms)"),
    ]


def window_p95(seconds: float) -> int:
    """The p95 a window reports for one call of `seconds` (the bucket's interpolation), in whole ms."""
    w = Window(1, None, None)
    w.record(0.0, seconds, False)
    p95 = w.summary(0.0).p95
    assert p95 is not None
    return round(p95 * 1000)


def test_windows_of_several_processes_merge_into_one_summary() -> None:
    """Two workers' windows (as their health pings carry them, through JSON): one summary of all their
    calls, as if one window had seen them; slots older than the asked span are left out."""
    fast, slow = Window(60, None, None), Window(60, None, None)
    for i in range(90):
        fast.record(1000.2, 0.010, failed=i < 3)
    for _ in range(10):
        slow.record(1000.5, 1.0, failed=False)
    slow.record(980.0, 5.0, failed=True)  # 20s old
    recents = [orjson.loads(orjson.dumps(w.recent(1000.9))) for w in (fast, slow)]
    last10 = merge(recents, 10)
    assert (last10.calls, last10.failures) == (100, 3)
    assert last10.p95 is not None and 0.9 < last10.p95 <= 1.1
    assert last10.p50 is not None and last10.p50 < 0.012
    assert merge(recents, 60).calls == 101
