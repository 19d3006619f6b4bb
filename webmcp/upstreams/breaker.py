"""Circuit breaker: closed -> open -> half-open -> closed.

Contract: used from the event loop only, so no locks. `allow()` is the hot-path check: one attribute
compare while closed. The open -> half-open move happens lazily in `allow()` once `recovery_timeout`
has passed (no timers). Every `allow()` that returned True is matched by exactly one of `success()`,
`failure()` or `release()` (the last for a call that ended without an outcome, e.g. cancelled), so
half-open probe slots are never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from webmcp.config.upstreams import BreakerSpec

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = ("closed", "open", "half_open")


class Breaker:
    __slots__ = ("_calls", "_errors", "_on_change", "_probes", "_window_start", "consecutive", "label", "opened_at",
                 "spec", "state")

    def __init__(self, spec: BreakerSpec, label: str, on_change: Callable[[Breaker], None] | None = None) -> None:
        self.spec = spec
        self.label = label  # "upstream 'x' endpoint 'y'" or "tool 'z'"
        self.state = CLOSED
        self.consecutive = 0
        self.opened_at = 0.0
        self._probes = 0
        self._calls = 0
        self._errors = 0
        self._window_start = time.monotonic()
        self._on_change = on_change

    def allow(self) -> bool:
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if time.monotonic() - self.opened_at < self.spec.recovery_timeout:
                return False
            self._move(HALF_OPEN)
            self._probes = 0
        if self._probes < self.spec.half_open_max_calls:
            self._probes += 1
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through."""
        return max(0.0, self.spec.recovery_timeout - (time.monotonic() - self.opened_at))

    def message(self) -> str:
        return f"circuit open for {self.label}; retry in {max(1, round(self.retry_in()))}s"

    def success(self) -> None:
        self.consecutive = 0
        if self.state == HALF_OPEN:
            self._probes -= 1
            self._move(CLOSED)
            self._reset_window(time.monotonic())
        elif self.spec.error_rate is not None:
            self._count(False)

    def failure(self) -> None:
        self.consecutive += 1
        if self.state == HALF_OPEN:
            self._probes -= 1
            self._open()
            return
        if self.state == OPEN:
            return
        if self.consecutive >= self.spec.failure_threshold or (self.spec.error_rate is not None and self._count(True)):
            self._open()

    def release(self) -> None:
        if self.state == HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def _count(self, failed: bool) -> bool:
        """Count one outcome in the tumbling window; True when the error rate is over the limit."""
        now = time.monotonic()
        if now - self._window_start > self.spec.window:
            self._reset_window(now)
        self._calls += 1
        self._errors += failed
        rate = self.spec.error_rate
        return rate is not None and self._calls >= self.spec.min_calls and self._errors / self._calls > rate

    def _reset_window(self, now: float) -> None:
        self._window_start = now
        self._calls = self._errors = 0

    def _open(self) -> None:
        self.opened_at = time.monotonic()
        self._move(OPEN)

    def _move(self, state: int) -> None:
        if state != self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(self)
