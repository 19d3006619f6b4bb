"""The live status of a serving process: a snapshot written next to its pid file every second, read
by `webmcp status` (which works the same for stdio and HTTP servers, with or without an endpoint)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

import psutil

from webmcp.status.components import components
from webmcp.telemetry import stats

if TYPE_CHECKING:
    from webmcp.graph.holder import GraphHolder

INTERVAL = 1.0


def snapshot(holder: GraphHolder) -> dict[str, Any]:
    graph = holder.current
    found = components(graph)
    admission = found.admission
    process = psutil.Process()
    memory: dict[str, Any] = {"rss": process.memory_info().rss}
    if found.memory is not None:
        memory.update(limit=found.memory.limit, shedding=found.memory.shedding)
    out: dict[str, Any] = {
        "pid": os.getpid(),
        "time": time.time(),
        "generation": graph.generation,
        "uptime": round(time.time() - stats.STARTED, 3),
        "in_flight": admission.running if admission is not None else 0,
        "queue": admission.depths() if admission is not None else {},
        "observed": graph.spec.observes_calls,
        "memory": memory,
        "tasks": len(asyncio.all_tasks()),  # background and call tasks: flat across reloads, or a leak
        "fds": process.num_fds() if hasattr(process, "num_fds") else None,
        "targets": [{"name": t.name, "goal": t.goal, "value": t.value, "violated": t.violated}
                    for t in found.targets()],
    }
    if found.threads is not None:
        threads = found.threads
        out["threads"] = {"busy": threads.busy, "lost": threads.lost, "replaced": threads.replaced,
                          "max_lost": threads.max_lost}
    if graph.spec.observes_calls:
        totals = dict.fromkeys(stats.OUTCOMES, 0)
        for figures in stats.TOOLS.values():
            for outcome, count in figures.calls.items():
                totals[outcome] += count
        out["calls"] = {"total": sum(totals.values()), **totals}
        window = found.window
        if window is not None:
            s = window.summary()
            out["window"] = {"seconds": s.seconds, "calls": s.calls, "failures": s.failures,
                             "error_rate": s.error_rate, "p50": s.p50, "p95": s.p95, "p99": s.p99}
    return out


def render(status: dict[str, Any], pid: int, label: str | None = None) -> list[str]:
    """Human-readable lines for one server's snapshot (a supervisor's: its line, then each worker's)."""
    live = status.get("live")
    label = label or f"pid {pid}"
    if not isinstance(live, dict):
        return [f"{label}: no live status yet (an older webmcp, or it has just started)"]
    age = time.time() - float(live.get("time", 0))
    stale = f" (status {age:.0f}s old: the server may be stuck)" if age > 5 * INTERVAL else ""
    if "workers" in live:
        workers = live["workers"]
        lines = [f"{label}: supervisor of {len(workers)} worker(s), generation {live['generation']}, "
                 f"up {_duration(live['uptime'])}{stale}"]
        for t in live.get("targets", []):  # over the calls of every worker
            state = "VIOLATED" if t["violated"] else "ok"
            lines.append(f"  target {t['name']}: {_show(t['name'], t['value'])} (target {_show(t['name'], t['goal'])}) "
                         f"{state}")
        lines += _autoscaling(live.get("autoscaling"))
        for w in workers:
            name = f"worker {w['index']} (pid {w['pid']})"
            found = render({"live": w.get("live")}, w["pid"], name) if w.get("ready") else [f"{name}: starting"]
            lines += ["  " + line for line in found]
        lines += [f"  worker {w['index']} (pid {w['pid']}): stopping (scaled down), finishing its calls"
                  for w in live.get("stopping", [])]
        return lines
    lines = [f"{label}: generation {live['generation']}, up {_duration(live['uptime'])}{stale}"]
    queue = ", ".join(f"{k} {v}" for k, v in live.get("queue", {}).items())
    lines.append(f"  in flight {live['in_flight']}; queued: {queue or 'none'}")
    calls = live.get("calls")
    if calls is None:
        lines.append("  calls: not observed (enable telemetry.metrics, telemetry.spans or a latency/error target)")
    else:
        failed = calls["error"] + calls["timeout"]
        lines.append(f"  calls {calls['total']}: ok {calls['ok']}, errors {failed} (timeouts {calls['timeout']}), "
                     f"rejected {calls['rejected']}, invalid {calls['invalid']}, cancelled {calls['cancelled']}")
        w = live.get("window")
        if w is not None:
            lines.append(f"  last {w['seconds']:g}s: {w['calls']} calls, p50 {_ms(w['p50'])}, p95 {_ms(w['p95'])}, "
                         f"p99 {_ms(w['p99'])}, error rate {w['error_rate'] * 100:.2f}%")
    threads = live.get("threads")
    if threads is not None and (threads["lost"] or threads["replaced"]):
        lines.append(f"  worker threads: {threads['busy']} busy, {threads['lost']} held by calls that timed out or "
                     f"were cancelled ({threads['replaced']} replaced so far, at most {threads['max_lost']} at once)")
    memory = live["memory"]
    text = f"  memory {memory['rss'] / 1e6:.0f}MB, {live.get('tasks', '?')} tasks, {live.get('fds', '?')} fds"
    if "limit" in memory:
        text += f" of max {memory['limit'] / 1e6:.0f}MB" + (" (shedding new low-priority calls)"
                                                              if memory["shedding"] else "")
    lines.append(text)
    for t in live.get("targets", []):
        state = "VIOLATED" if t["violated"] else "ok"
        lines.append(f"  target {t['name']}: {_show(t['name'], t['value'])} (target {_show(t['name'], t['goal'])}) "
                     f"{state}")
    return lines


def _autoscaling(scaling: dict[str, Any] | None) -> list[str]:
    """The autoscaler's lines in a supervisor's status: bounds, what it wants and why, the last decisions."""
    if not scaling:
        return []
    lines = [f"  autoscaling {scaling['min']}..{scaling['max']} (cooldown {scaling['cooldown']:g}s): "
             f"{scaling['note'] or 'no decision yet'}"]
    counts = scaling.get("counts", {})
    decisions = scaling.get("decisions", [])
    if decisions:
        lines.append(f"  decisions: {counts.get('up', 0)} up, {counts.get('down', 0)} down; the last ones:")
    for d in decisions[-5:]:
        when = time.strftime("%H:%M:%S", time.localtime(d["time"]))
        lines.append(f"    {when} {d['before']} -> {d['after']}: {d['reason']}")
    return lines


def _show(target: str, value: float) -> str:
    if target == "p95_latency":
        return _ms(value)
    if target == "error_rate":
        return f"{value * 100:.2f}%"
    return f"{value / 1e6:.0f}MB"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}ms"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
