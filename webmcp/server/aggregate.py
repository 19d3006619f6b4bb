"""One view of a supervisor's workers: their metrics merged into one /metrics, and the server's targets
evaluated over the calls of all of them.

Contract:
- /metrics on any worker is answered by the supervisor (it asks every ready worker for its metric
  families, status/metrics.families, and merges them), not by prometheus_client's multiprocess mode:
  the per-call figures are plain Python numbers turned into metrics at scrape time (status/metrics.py),
  which the multiprocess mode's mmap files cannot hold.
- Merging: counters, histograms and gauges are summed over the workers by label set (calls, durations,
  in flight, queue depth), except the per-process gauges in PER_WORKER and process_*/python_*, which keep
  one series per worker with a `worker` label (its slot, 1..max), and MAXED, which are the same setting
  in every worker. The workers' target gauges are replaced by the supervisor's evaluation over all the
  calls (`targets`); the supervisor adds its own families (workers, autoscaling, alerts).
- Counters never go back when a worker goes: the counts of a stopped worker (its last words when it
  stops gracefully, else what its last scrape said) are kept and added to every later answer. Calls
  counted by a killed worker since the last scrape are lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from webmcp.config.spec import ScalingSpec
from webmcp.telemetry.targets import Target, merge

if TYPE_CHECKING:
    from webmcp.server.autoscale import Autoscaler
    from webmcp.server.workers import Worker

PER_WORKER = frozenset({"webmcp_memory_rss_bytes", "webmcp_uptime_seconds", "webmcp_generation",
                        "webmcp_memory_shedding"})
MAXED = frozenset({"webmcp_memory_limit_bytes"})
REPLACED = frozenset({"webmcp_target_violated", "webmcp_target_value", "webmcp_target_goal"})
_KEPT_TYPES = frozenset({"counter", "histogram"})  # what a stopped worker's counts are kept for

Families = Sequence[Sequence[Any]]  # status/metrics.families(): [name, type, help, [[sample, labels, value]]]
Key = tuple[str, tuple[tuple[str, str], ...]]


def _per_worker(name: str) -> bool:
    return name in PER_WORKER or name.startswith(("process_", "python_"))


class MetricsView:
    def __init__(self) -> None:
        self._retired: dict[Key, float] = {}
        self._meta: dict[str, tuple[str, str, set[str]]] = {}  # family -> type, help, its sample names
        self._last: dict[int, Families] = {}  # by pid: each worker's last answer

    def gone(self, pid: int, final: Families | None = None) -> None:
        """A worker stopped: keep its counts (`final`, its last words, else its last scrape)."""
        last = self._last.pop(pid, None)
        for name, kind, doc, samples in final or last or ():
            if kind not in _KEPT_TYPES or _per_worker(name):
                continue
            self._meta.setdefault(name, (kind, doc, set()))[2].update(s[0] for s in samples)
            for sample, labels, value in samples:
                if sample.endswith("_created"):
                    continue
                key = (sample, tuple(sorted(labels.items())))
                self._retired[key] = self._retired.get(key, 0.0) + value

    def exposition(self, answers: Iterable[tuple[int, int, Families]], own: Iterable[Metric]) -> tuple[bytes, str]:
        """The /metrics body of the whole server from `(slot, pid, families)` of each worker and the
        supervisor's own families."""
        meta: dict[str, tuple[str, str]] = {n: (k, d) for n, (k, d, _) in self._meta.items()}
        order: list[str] = list(meta)
        values: dict[str, dict[Key, float]] = {}
        for name, (_, _, names) in self._meta.items():
            mine = values.setdefault(name, {})
            for key, value in self._retired.items():
                if key[0] in names:
                    mine[key] = value
        for slot, pid, families in answers:
            self._last[pid] = families
            for name, kind, doc, samples in families:
                if name in REPLACED:
                    continue
                if name not in meta:
                    meta[name] = (kind, doc)
                    order.append(name)
                mine = values.setdefault(name, {})
                for sample, labels, value in samples:
                    if sample.endswith("_created"):
                        continue
                    if _per_worker(name):
                        labels = {**labels, "worker": str(slot)}
                    key = (sample, tuple(sorted(labels.items())))
                    if name in MAXED:
                        mine[key] = max(mine.get(key, value), value)
                    else:
                        mine[key] = mine.get(key, 0.0) + value
        merged: list[Metric] = []
        for name in order:
            kind, doc = meta[name]
            metric = Metric(name, doc, kind)
            for (sample, labels), value in values.get(name, {}).items():
                metric.add_sample(sample, dict(labels), value)
            merged.append(metric)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed([*merged, *own]))
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def targets(scaling: ScalingSpec, workers: Iterable[Worker]) -> list[Target]:
    """The server's targets over the calls of every worker (their windows' slots, from the health pings):
    p95_latency and error_rate over `scaling.window`; max_memory violated while any worker sheds."""
    workers = list(workers)
    out: list[Target] = []
    if scaling.has_call_targets:
        summary = merge((w.recent or [] for w in workers), scaling.window)
        if scaling.p95_latency is not None:
            p95 = summary.p95 or 0.0
            out.append(Target("p95_latency", scaling.p95_latency, p95, p95 > scaling.p95_latency))
        if scaling.error_rate is not None:
            out.append(Target("error_rate", scaling.error_rate, summary.error_rate,
                              summary.error_rate > scaling.error_rate))
    if scaling.max_memory is not None:
        memory = [(w.live or {}).get("memory") or {} for w in workers]
        out.append(Target("max_memory", float(scaling.max_memory), float(max((m.get("rss", 0) for m in memory),
                                                                             default=0)),
                          any(m.get("shedding") for m in memory)))
    return out


def own_families(running: int, retiring: int, scaler: Autoscaler | None, found: Sequence[Target],
                 alerts: dict[str, int]) -> list[Metric]:
    """The supervisor's families: its workers, the autoscaler's readings and decisions, the server's targets
    and its alerts."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    workers = GaugeMetricFamily("webmcp_workers", "Worker processes, by state (running: serving or starting; "
                                "stopping: scaled down, draining).", labels=["state"])
    workers.add_metric(["running"], running)
    workers.add_metric(["stopping"], retiring)
    out: list[Metric] = [workers]
    if scaler is not None:
        out.append(GaugeMetricFamily("webmcp_workers_desired", "The worker count the autoscaler wants now "
                                     "(before the cooldown of a scale-down).", value=scaler.desired))
        reading = GaugeMetricFamily("webmcp_autoscale_value", "Each autoscaling metric now (in_flight: calls per "
                                    "worker; p95_latency: seconds).", labels=["metric"])
        goal = GaugeMetricFamily("webmcp_autoscale_target", "Each autoscaling metric's target.", labels=["metric"])
        for r in scaler.readings:
            reading.add_metric([r.metric], r.value)
            goal.add_metric([r.metric], r.target)
        decisions = CounterMetricFamily("webmcp_autoscale_decisions", "Changes of the worker count by the "
                                        "autoscaler.", labels=["direction"])
        for direction, count in scaler.counts.items():
            decisions.add_metric([direction], count)
        out += [reading, goal, decisions]
    if found:
        violated = GaugeMetricFamily("webmcp_target_violated", "1 while a scaling target is not met over the window "
                                     "(all workers' calls).", labels=["target"])
        value = GaugeMetricFamily("webmcp_target_value", "Current value of each target's measure over the window "
                                  "(p95_latency in seconds, error_rate as a fraction, max_memory: the largest "
                                  "worker's resident bytes).", labels=["target"])
        goal = GaugeMetricFamily("webmcp_target_goal", "Each target as configured.", labels=["target"])
        for t in found:
            violated.add_metric([t.name], int(t.violated))
            value.add_metric([t.name], t.value)
            goal.add_metric([t.name], t.goal)
        out += [violated, value, goal]
    if any(alerts.values()):
        sent = CounterMetricFamily("webmcp_alerts", "Webhook alerts (telemetry.alerts): delivered (sent), attempts "
                                   "that failed (failed), alerts given up (dropped).", labels=["outcome"])
        for outcome, count in alerts.items():
            sent.add_metric([outcome], count)
        out.append(sent)
    return out
