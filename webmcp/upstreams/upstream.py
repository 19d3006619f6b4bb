"""The runtime of one upstream: choose an endpoint, try it, count the outcome, try again when safe.

Contract: event loop only, no locks. The hot path of a call is `call()`: the balancer's pick over the
precomputed `available` list, one breaker check (an attribute compare while closed), the attempt, and
the bookkeeping of its outcome. `available` is recomputed only when an endpoint's health or ejection
changes. Every attempt increments and decrements its endpoint's `inflight` exactly once, and settles
its breaker permit exactly once (success, failure or release), also when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from webmcp.call.deadline import timed_out
from webmcp.config.upstreams import Balancing, BreakerSpec, EndpointSpec, HealthCheckSpec
from webmcp.errors import ToolError
from webmcp.upstreams.balancer import MakeBalancer
from webmcp.upstreams.breaker import STATE_NAMES, Breaker
from webmcp.upstreams.endpoint import Endpoint

log = logging.getLogger(__name__)

R = TypeVar("R")


class AttemptFailed(Exception):
    """One attempt at one endpoint failed in a way that counts against the endpoint.

    `safe`: the request surely did not take effect (connect error, 502/503/504), so it may be sent
    again even when the call is not idempotent.
    """

    def __init__(self, message: str, safe: bool) -> None:
        super().__init__(message)
        self.safe = safe


class UpstreamFailure(ToolError):
    """A call failed because of its upstream (open circuit, no endpoint, failing endpoints): a
    tool's `fallback:` takes over."""


class Upstream:
    __slots__ = ("_balancer", "_checks", "_retried", "_timers", "_up", "attempts", "available", "balancing",
                 "endpoints", "name", "retries")

    def __init__(self, name: str, endpoints: Sequence[EndpointSpec], balancing: Balancing,
                 breaker: BreakerSpec | None, make_balancer: MakeBalancer) -> None:
        from webmcp.upstreams import metrics  # prometheus-client: imported only by configs with upstreams

        self.name = name
        self.balancing = balancing
        self.endpoints = [
            Endpoint(e.name, e.address, e.weight,
                     Breaker(breaker, f"upstream {name!r} endpoint {e.name!r}", breaker_gauge("upstream", name, e.name))
                     if breaker else None)
            for e in endpoints
        ]
        self._up: dict[str, Any] = {}
        for ep in self.endpoints:
            ep.ok = metrics.ATTEMPTS.labels(name, ep.name, "ok")
            ep.failed = metrics.ATTEMPTS.labels(name, ep.name, "failed")
            self._up[ep.name] = metrics.ENDPOINT_UP.labels(name, ep.name)
            self._up[ep.name].set(1)
            if ep.breaker is not None:
                metrics.BREAKER_STATE.labels("upstream", name, ep.name).set(0)
        self._retried = metrics.RETRIES.labels(name)
        self.available: list[Endpoint] = list(self.endpoints)
        self._balancer = make_balancer(self.endpoints, balancing.hash_on)
        self._timers: set[asyncio.TimerHandle] = set()
        self._checks: list[asyncio.Task[None]] = []
        self.attempts = 0  # attempts sent, retries included
        self.retries = 0

    def _refresh(self) -> None:
        self.available = [e for e in self.endpoints if e.healthy and not e.ejected]
        for e in self.endpoints:
            self._up[e.name].set(1 if e.healthy and not e.ejected else 0)

    def _choose(self, arguments: Mapping[str, Any], tried: list[Endpoint] | None) -> Endpoint:
        available = self.available
        if tried:
            available = [e for e in available if e not in tried] or available
        refused: list[Breaker] = []
        while available:
            ep = self._balancer.pick(available, arguments)
            breaker = ep.breaker
            if breaker is None or breaker.allow():
                return ep
            refused.append(breaker)
            available = [e for e in available if e is not ep]
        if refused:
            raise UpstreamFailure(min(refused, key=lambda b: b.retry_in()).message())
        down = [e.name for e in self.endpoints if not e.healthy or e.ejected]
        raise UpstreamFailure(f"no healthy endpoint for upstream {self.name!r} "
                              f"({len(down)} of {len(self.endpoints)} unhealthy or ejected)")

    async def call(self, attempt: Callable[[Endpoint], Awaitable[R]], arguments: Mapping[str, Any],
                   idempotent: bool, deadline: float) -> R:
        """Run `attempt` on a chosen endpoint, again on another one when that is safe and time is left."""
        retry = self.balancing.retry
        tried: list[Endpoint] | None = None
        n = 0
        while True:
            ep = self._choose(arguments, tried)
            n += 1
            self.attempts += 1
            ep.calls += 1
            ep.inflight += 1
            started = time.monotonic()
            try:
                result = await attempt(ep)
            except AttemptFailed as exc:
                error = exc
                self._failed(ep)
            except BaseException:
                if timed_out():
                    self._failed(ep)  # the call's timeout cut this attempt short: the endpoint hangs
                elif ep.breaker is not None:
                    ep.breaker.release()  # cancelled by the client, or a fault of the request
                raise
            else:
                self._succeeded(ep, time.monotonic() - started)
                return result
            finally:
                ep.inflight -= 1
            if n >= retry.attempts or not (error.safe or idempotent):
                raise UpstreamFailure(str(error))
            ceiling = min(retry.max_backoff, retry.backoff * 2 ** (n - 1))
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"
            if time.monotonic() + delay >= deadline:
                raise UpstreamFailure(f"{error} (no time left to try again)")
            self.retries += 1
            self._retried.inc()
            tried = [*(tried or ()), ep]
            await asyncio.sleep(delay)

    def _succeeded(self, ep: Endpoint, seconds: float) -> None:
        ep.ok.inc()
        ep.observe(seconds)
        ep.failures = 0
        if ep.breaker is not None:
            ep.breaker.success()

    def _failed(self, ep: Endpoint) -> None:
        ep.failed.inc()
        ep.failures += 1
        if ep.breaker is not None:
            ep.breaker.failure()
        outlier = self.balancing.outlier
        if outlier is not None and ep.failures >= outlier.consecutive_failures and not ep.ejected:
            ejected = sum(e.ejected for e in self.endpoints)
            if (ejected + 1) * 100 <= outlier.max_ejected_percent * len(self.endpoints):
                log.warning("upstream %r: endpoint %r ejected for %gs after %d failures in a row",
                            self.name, ep.name, outlier.ejection_time, ep.failures)
                ep.ejected = True
                self._refresh()
                self._later(outlier.ejection_time, self._return, ep)

    def _return(self, ep: Endpoint) -> None:
        log.info("upstream %r: endpoint %r back from ejection", self.name, ep.name)
        ep.ejected = False
        ep.failures = 0
        self._refresh()

    def _later(self, delay: float, fn: Callable[[Endpoint], None], ep: Endpoint) -> None:
        def run() -> None:
            self._timers.discard(handle)
            fn(ep)

        handle = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(handle)

    def start_health_checks(self, spec: HealthCheckSpec, probe: Callable[[Endpoint, float], Awaitable[bool]]) -> None:
        loop = asyncio.get_running_loop()
        self._checks = [loop.create_task(self._check(ep, spec, probe)) for ep in self.endpoints]

    async def _check(self, ep: Endpoint, spec: HealthCheckSpec,
                     probe: Callable[[Endpoint, float], Awaitable[bool]]) -> None:
        """Active health check of one endpoint: `unhealthy_threshold` failed probes in a row take it
        out, `healthy_threshold` good ones put it back."""
        good = bad = 0
        while True:
            try:
                ok = await asyncio.wait_for(probe(ep, spec.timeout), spec.timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                ok = False
            good, bad = (good + 1, 0) if ok else (0, bad + 1)
            if ep.healthy and bad >= spec.unhealthy_threshold:
                log.warning("upstream %r: endpoint %r failed %d health checks; taken out", self.name, ep.name, bad)
                ep.healthy = False
                self._refresh()
            elif not ep.healthy and good >= spec.healthy_threshold:
                log.info("upstream %r: endpoint %r healthy again", self.name, ep.name)
                ep.healthy = True
                ep.failures = 0
                self._refresh()
            await asyncio.sleep(spec.interval)

    async def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in self._checks:
            task.cancel()
        if self._checks:
            await asyncio.gather(*self._checks, return_exceptions=True)
        self._checks = []


def breaker_gauge(scope: str, name: str, endpoint: str) -> Callable[[Breaker], None]:
    """A breaker's on_change: its state into webmcp_breaker_state, and a log line."""
    from webmcp.upstreams import metrics

    gauge = metrics.BREAKER_STATE.labels(scope, name, endpoint)
    gauge.set(0)

    def on_change(breaker: Breaker) -> None:
        gauge.set(breaker.state)
        log.warning("circuit %s for %s", STATE_NAMES[breaker.state].replace("_", "-"), breaker.label)

    return on_change
