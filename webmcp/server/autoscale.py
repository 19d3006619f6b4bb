"""The autoscaling policy of a supervisor's workers (`scaling.workers: {min, max, cooldown, in_flight}`).

Contract:
- `Autoscaler.decide` is pure arithmetic over what it is given: the supervisor calls it on a timer of its
  own (INTERVAL), with the figures the health pings already brought back (each worker's status) and the
  listener's accept queue. It asks no worker anything, and nothing on the call path waits for it.
- Three metrics, each giving a desired count by the HPA formula ceil(current * value / target),
  unchanged while value / target is within TOLERANCE of 1; the desired count is the largest, clamped to
  [min, max]:
  - `cpu`: the CPU time the ready workers used since the last decision, per worker and second (a share
    of one core: a worker runs one event loop), against `scaling.workers.cpu`;
  - `in_flight`: (calls running + calls queued in every worker + connections waiting in the accept
    queue) / workers, against `scaling.workers.in_flight`;
  - `p95_latency`, when `scaling.targets.p95_latency` is declared: the p95 of the calls that ended in
    all the workers over the last RECENT seconds (at most `scaling.window`), against the target.
  No calls at all is no load: an idle server wants `min`.
- Up at once, at most max(4, current) more per decision (the HPA's default step), and not while workers
  started earlier are still coming up (their load has not spread yet).
- Down only when every desired count of the last `cooldown` seconds was lower (the stabilization window,
  a full one observed), to the highest of them.
- Each change is a Decision, logged with its reason, kept for `webmcp status` and counted for /metrics.
"""

from __future__ import annotations

import collections
import logging
import math
import socket
import struct
import sys
import time
from dataclasses import dataclass

from webmcp.config.spec import WorkersSpec

log = logging.getLogger(__name__)

INTERVAL = 1.0  # one decision a second, after the health pings (server/supervisor.HEALTH_INTERVAL)
TOLERANCE = 0.1  # as the Kubernetes HPA
RECENT = 10.0  # seconds of calls the p95 is taken over: short, so a scale-up shows in it soon
MIN_STEP = 4  # workers added at most per decision: max(MIN_STEP, current), the HPA's default scale-up policy
KEPT = 20  # decisions listed in the status


@dataclass(frozen=True, slots=True)
class Reading:
    metric: str  # cpu | in_flight | p95_latency
    value: float  # cpu: share of a core per worker; in_flight: per worker; p95_latency: seconds
    target: float
    desired: int


@dataclass(frozen=True, slots=True)
class Decision:
    time: float  # wall clock
    before: int
    after: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"time": self.time, "before": self.before, "after": self.after, "reason": self.reason}


def desired_by(current: int, value: float, target: float) -> int:
    """The HPA formula: ceil(current * value / target); `current` while the ratio is within the tolerance."""
    ratio = value / target
    if abs(ratio - 1.0) <= TOLERANCE:
        return current
    return math.ceil(current * ratio)


def accept_backlog(listener: socket.socket) -> int | None:
    """Connections waiting in the listening socket's accept queue: on Linux, TCP_INFO's tcpi_unacked of a
    listening socket is its accept-queue length (what gunicorn's backlog metric reads). None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except (OSError, AttributeError):
        return None
    # struct tcp_info: 8 one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked
    return int(struct.unpack_from("I", info, 24)[0]) if len(info) >= 28 else None


class Autoscaler:
    def __init__(self, spec: WorkersSpec, p95_goal: float | None, window: float) -> None:
        self.spec = spec
        self.p95_goal = p95_goal
        self.recent = min(RECENT, window)
        self.desired = spec.min
        self.readings: list[Reading] = []
        self.note = ""  # why the count is what it is, now
        self.decisions: collections.deque[Decision] = collections.deque(maxlen=KEPT)
        self.counts = {"up": 0, "down": 0}
        self._history: collections.deque[tuple[float, int]] = collections.deque()  # (monotonic, desired)
        self._since: float | None = None

    def decide(self, now: float, current: int, starting: int, load: int, backlog: int | None,
               p95: float | None, cpu: float | None = None) -> int:
        """The worker count to run from now on. `current`: workers running or starting (not those being
        stopped); `starting`: of them, not ready yet; `load`: calls running and queued in all the workers;
        `backlog`: the accept queue (None: unknown); `p95`: of the last `recent` seconds (None: no calls);
        `cpu`: the ready workers' mean share of a core since the last decision (None: not known yet)."""
        spec = self.spec
        if self._since is None:
            self._since = now
        waiting = backlog or 0
        self.readings = []
        if cpu is not None:
            self.readings.append(Reading("cpu", cpu, spec.cpu, desired_by(current, cpu, spec.cpu)))
        self.readings.append(Reading("in_flight", (load + waiting) / current, spec.in_flight,
                                     desired_by(current, (load + waiting) / current, spec.in_flight)))
        if self.p95_goal is not None:
            value = p95 or 0.0
            wants = desired_by(current, value, self.p95_goal)
            self.readings.append(Reading("p95_latency", value, self.p95_goal, wants))
        top = max(self.readings, key=lambda r: r.desired)
        desired = self.desired = max(spec.min, min(spec.max, top.desired))
        self._history.append((now, desired))
        while self._history and self._history[0][0] < now - spec.cooldown:
            self._history.popleft()
        why = self._why(top, backlog)
        if desired > current:
            if starting:
                self.note = f"{desired} wanted ({why}); waiting for {starting} starting worker(s)"
                return current
            after = min(desired, current + max(MIN_STEP, current))
            step = "" if after == desired else f"; at most {after - current} more at once"
            return self._change(current, after, f"{why}{step}")
        stable = max(d for _, d in self._history)
        if stable < current and now - self._since >= spec.cooldown:
            return self._change(current, stable, f"{why}; no more than {stable} wanted for the last "
                                f"{spec.cooldown:g}s (cooldown)")
        if desired < current:
            self.note = f"{desired} wanted ({why}); {current} kept until {stable} or fewer have been wanted for " \
                        f"{spec.cooldown:g}s (cooldown)"
        else:
            self.note = f"{current} wanted ({why})"
        return current

    def _why(self, top: Reading, backlog: int | None) -> str:
        parts = []
        for r in self.readings:
            if r.metric == "cpu":
                parts.append(f"cpu {r.value * 100:.0f}% of a core per worker (target {r.target * 100:.0f}%)")
            elif r.metric == "in_flight":
                queue = "" if backlog is None else f", {backlog} in the accept queue"
                parts.append(f"in_flight {r.value:.1f} per worker{queue} (target {r.target:g})")
            else:
                parts.append(f"p95_latency {r.value * 1000:.0f}ms over {self.recent:g}s (target "
                             f"{r.target * 1000:.0f}ms)")
        return "; ".join(parts) if top.desired <= self.spec.min else \
            f"{top.metric} wants {top.desired}: " + "; ".join(parts)

    def _change(self, before: int, after: int, reason: str) -> int:
        direction = "up" if after > before else "down"
        self.counts[direction] += 1
        self.decisions.append(Decision(time.time(), before, after, reason))
        self.note = f"scaled {direction} from {before} to {after}"
        log.info("autoscaling %s: %d -> %d worker(s): %s", direction, before, after, reason)
        return after

    def status(self) -> dict[str, object]:
        """For `webmcp status` (the supervisor's status file)."""
        return {"min": self.spec.min, "max": self.spec.max, "cooldown": self.spec.cooldown,
                "desired": self.desired, "note": self.note,
                "readings": [{"metric": r.metric, "value": r.value, "target": r.target, "desired": r.desired}
                             for r in self.readings],
                "decisions": [d.as_dict() for d in self.decisions], "counts": dict(self.counts)}
