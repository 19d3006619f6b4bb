"""Merging the workers' metrics into one /metrics (server/aggregate.py)."""

from __future__ import annotations

import re
from typing import Any

from webmcp.server.aggregate import MetricsView, own_families


def worker(calls: float, in_flight: float, rss: float) -> list[list[Any]]:
    """A worker's families, as status/metrics.families() gives them."""
    return [
        ["webmcp_tool_calls", "counter", "Tool calls.", [["webmcp_tool_calls_total", {"tool": "t", "outcome": "ok"},
                                                          calls]]],
        ["webmcp_tool_duration_seconds", "histogram", "Durations.", [
            ["webmcp_tool_duration_seconds_bucket", {"tool": "t", "le": "0.1"}, calls],
            ["webmcp_tool_duration_seconds_bucket", {"tool": "t", "le": "+Inf"}, calls],
            ["webmcp_tool_duration_seconds_count", {"tool": "t"}, calls],
            ["webmcp_tool_duration_seconds_sum", {"tool": "t"}, calls / 100]]],
        ["webmcp_in_flight_calls", "gauge", "In flight.", [["webmcp_in_flight_calls", {}, in_flight]]],
        ["webmcp_memory_rss_bytes", "gauge", "RSS.", [["webmcp_memory_rss_bytes", {}, rss]]],
        ["webmcp_memory_limit_bytes", "gauge", "Limit.", [["webmcp_memory_limit_bytes", {}, 1e9]]],
        ["webmcp_target_violated", "gauge", "Violated.", [["webmcp_target_violated", {"target": "p95_latency"}, 1]]],
    ]


def value(text: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_counters_and_gauges_sum_per_process_figures_keep_a_worker_label() -> None:
    """Calls, histograms and in-flight sum over the workers; memory keeps one series per worker; a
    setting shared by all (the memory limit) is not multiplied; the workers' own target gauges are left
    out (the supervisor's replace them)."""
    body, content_type = MetricsView().exposition([(1, 101, worker(10, 2, 5e7)), (2, 102, worker(5, 1, 6e7))], [])
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert value(text, 'webmcp_tool_calls_total{outcome="ok",tool="t"}') == 15
    assert value(text, 'webmcp_tool_duration_seconds_bucket{le="+Inf",tool="t"}') == 15
    assert value(text, 'webmcp_tool_duration_seconds_count{tool="t"}') == 15
    assert value(text, "webmcp_in_flight_calls") == 3
    assert value(text, 'webmcp_memory_rss_bytes{worker="1"}') == 5e7
    assert value(text, 'webmcp_memory_rss_bytes{worker="2"}') == 6e7
    assert value(text, "webmcp_memory_limit_bytes") == 1e9
    assert "webmcp_target_violated" not in text


def test_the_counts_of_a_stopped_worker_stay_in_the_totals() -> None:
    """A worker that stops (its last words, or else its last scrape) leaves its counts behind: the totals
    never go back; its gauges go with it."""
    view = MetricsView()
    view.exposition([(1, 101, worker(10, 2, 5e7)), (2, 102, worker(5, 1, 6e7))], [])
    view.gone(102, worker(7, 0, 6e7))  # last words: 7 calls by the end
    view.gone(101)  # killed: what its last scrape said
    body, _ = view.exposition([(1, 103, worker(1, 1, 4e7))], own_families(1, 0, None, [], {}))
    text = body.decode()
    assert value(text, 'webmcp_tool_calls_total{outcome="ok",tool="t"}') == 10 + 7 + 1
    assert value(text, 'webmcp_tool_duration_seconds_count{tool="t"}') == 18
    assert value(text, "webmcp_in_flight_calls") == 1
    assert 'webmcp_memory_rss_bytes{worker="2"}' not in text
    assert value(text, 'webmcp_workers{state="running"}') == 1
