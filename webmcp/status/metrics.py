"""Prometheus metrics, on prometheus_client's default REGISTRY.

Contract:
- Per-call figures (calls by outcome, durations, queue wait, rejections, reloads) are plain Python
  numbers in stats.py, updated by the observation hook (observe.py), and turned into metric
  families only when /metrics is scraped (`_Collector`). An update is a list increment, far cheaper
  than a prometheus_client child's locked `inc()`/`observe()`.
- Gauges of the running state (in-flight calls, queue depth, memory, generation, targets) are read
  at scrape time from the current Graph; nothing on the call path feeds them.
- This module (and prometheus_client) is imported at the first scrape; the collector is registered
  on the default REGISTRY then, once per process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psutil
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from webmcp.status.components import State
from webmcp.telemetry.stats import (
    ALERTS,
    DEPRECATED_CALLS,
    QUEUE_WAIT,
    REJECTIONS,
    RELOADS,
    SPANS_DROPPED,
    STARTED,
    TOOLS,
    Histogram,
)

if TYPE_CHECKING:
    from webmcp.graph.holder import GraphHolder

def _histogram(name: str, doc: str, label: str, items: dict[str, Histogram]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for value, hist in sorted(items.items()):
        family.add_metric([value], hist.cumulative(), hist.total)
    return family


class _Collector(Collector):
    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("webmcp_tool_calls", "Tool calls by outcome (ok, error, timeout, invalid, "
                                    "rejected, cancelled).", labels=["tool", "outcome"])
        for name, stats in sorted(TOOLS.items()):
            for outcome, count in stats.calls.items():
                if count:
                    calls.add_metric([name, outcome], count)
        yield calls
        yield _histogram("webmcp_tool_duration_seconds", "Time from a call's arrival at its tool to its result "
                         "(queue wait included), for calls that were admitted.", "tool",
                         {n: s.duration for n, s in TOOLS.items()})
        yield _histogram("webmcp_queue_wait_seconds", "Time admitted calls waited for a slot, by priority class.",
                         "priority", QUEUE_WAIT)
        rejected = CounterMetricFamily("webmcp_rejections", "Calls refused before running, by reason "
                                       "(rate_limit, memory, overloaded, queue_timeout).", labels=["reason"])
        for reason, count in sorted(REJECTIONS.items()):
            rejected.add_metric([reason], count)
        yield rejected
        from webmcp.executor.ratelimit import STORE_FAILURES

        store = CounterMetricFamily("webmcp_rate_limit_store_failures", "Rate-limited calls decided without Redis "
                                    "(executor.rate_limits: {backend: redis}) because it failed, by on_error.",
                                    labels=["on_error"])
        for mode, count in sorted(STORE_FAILURES.items()):
            store.add_metric([mode], count)
        yield store
        yield CounterMetricFamily("webmcp_reloads", "Reloads that swapped in a new configuration.",
                                  value=RELOADS["ok"])
        yield CounterMetricFamily("webmcp_reload_failures", "Reloads that kept the running configuration.",
                                  value=RELOADS["failed"])
        deprecated = CounterMetricFamily("webmcp_deprecated_calls", "Calls of deprecated tools (after the sunset "
                                         "too, when they are refused).", labels=["tool"])
        for name, count in sorted(DEPRECATED_CALLS.items()):
            deprecated.add_metric([name], count)
        yield deprecated
        yield CounterMetricFamily("webmcp_spans_dropped", "Span records dropped because the buffer was full.",
                                  value=SPANS_DROPPED[0])
        if any(ALERTS.values()):
            alerts = CounterMetricFamily("webmcp_alerts", "Webhook alerts (telemetry.alerts): delivered (sent), "
                                         "attempts that failed (failed), alerts given up (dropped).",
                                         labels=["outcome"])
            for outcome, count in ALERTS.items():
                alerts.add_metric([outcome], count)
            yield alerts
        yield GaugeMetricFamily("webmcp_memory_rss_bytes", "Resident memory of the server process.",
                                value=psutil.Process().memory_info().rss)
        yield GaugeMetricFamily("webmcp_uptime_seconds", "Seconds since the server started.",
                                value=time.time() - STARTED)
        holder = State.holder
        if holder is not None:
            yield from _graph_gauges(holder)


def _graph_gauges(holder: GraphHolder) -> Iterator[Metric]:
    from webmcp.status.components import components

    graph = holder.current
    found = components(graph)
    yield GaugeMetricFamily("webmcp_generation", "Generation of the running configuration (1 at start, +1 per "
                            "reload).", value=graph.generation)
    admission = found.admission
    in_flight = GaugeMetricFamily("webmcp_in_flight_calls", "Calls running now (holding an executor slot).")
    depth = GaugeMetricFamily("webmcp_queue_depth", "Calls waiting for a slot, by priority class.",
                              labels=["priority"])
    if admission is not None:
        in_flight.add_metric([], admission.running)
        for priority, waiting in admission.depths().items():
            depth.add_metric([priority], waiting)
    yield in_flight
    yield depth
    threads = found.threads
    if threads is not None:
        yield GaugeMetricFamily("webmcp_worker_threads_lost", "Worker threads held by sync tool calls that timed out "
                                "or were cancelled (each replaced, up to executor.threads of them).",
                                value=threads.lost)
        yield CounterMetricFamily("webmcp_worker_threads_replaced", "Worker threads replaced because a timed-out or "
                                  "cancelled sync call held them.", value=threads.replaced)
    guard = found.memory
    if guard is not None:
        yield GaugeMetricFamily("webmcp_memory_limit_bytes", "scaling.targets.max_memory.", value=guard.limit)
        yield GaugeMetricFamily("webmcp_memory_shedding", "1 while new calls of the shed priority classes are "
                                "refused for memory.", value=int(guard.shedding))
    targets = found.targets()
    if targets:
        violated = GaugeMetricFamily("webmcp_target_violated", "1 while a scaling target is not met over the window.",
                                     labels=["target"])
        value = GaugeMetricFamily("webmcp_target_value", "Current value of each target's measure over the window "
                                  "(p95_latency in seconds, error_rate as a fraction).", labels=["target"])
        goal = GaugeMetricFamily("webmcp_target_goal", "Each target as configured.", labels=["target"])
        for target in targets:
            violated.add_metric([target.name], int(target.violated))
            value.add_metric([target.name], target.value)
            goal.add_metric([target.name], target.goal)
        yield violated
        yield value
        yield goal


def _register() -> None:
    REGISTRY.register(_Collector())


_register()


def exposition() -> tuple[bytes, str]:
    """The body and content type of a /metrics answer."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def families() -> list[list[Any]]:
    """This process's metrics as plain lists, `[name, type, help, [[sample, labels, value], ...]]`, for a
    supervisor to merge with its other workers' (server/aggregate.py)."""
    return [[m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
            for m in REGISTRY.collect()]
