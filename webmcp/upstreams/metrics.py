"""Prometheus metrics of pools, upstreams and breakers (prometheus-client's default registry).

Nothing here runs per call except what the caller binds in advance: label children are looked up
once when a component is built, so a counted event is one `inc()` on the hot path. Breaker and
health gauges change only on transitions.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

BREAKER_STATE = Gauge("webmcp_breaker_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
                      ["scope", "name", "endpoint"])
ENDPOINT_UP = Gauge("webmcp_upstream_endpoint_up",
                    "1 while the endpoint takes calls (healthy and not ejected), else 0.", ["upstream", "endpoint"])
ATTEMPTS = Counter("webmcp_upstream_attempts_total", "Attempts sent to an upstream endpoint, by outcome.",
                   ["upstream", "endpoint", "outcome"])
RETRIES = Counter("webmcp_upstream_retries_total", "Attempts that were retries of a failed one.", ["upstream"])
SPLIT_CALLS = Counter("webmcp_split_calls_total",
                      "Calls of a tool with split:, by variant (primary or variant), what served it and outcome "
                      "(ok, error: an isError result, failure: the backend failed).",
                      ["tool", "variant", "target", "outcome"])
SPLIT_SECONDS = Histogram("webmcp_split_call_seconds", "Backend time of the calls of a tool with split:, by variant.",
                          ["tool", "variant", "target"],
                          buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
POOL_CREATED = Counter("webmcp_pool_connections_created_total", "Connections a pool opened.", ["pool"])
POOL_REUSED = Counter("webmcp_pool_connections_reused_total", "Requests served on a kept-alive connection.",
                      ["pool"])
POOL_WAIT = Histogram("webmcp_pool_wait_seconds", "Time a request waited for a free connection of its pool.",
                      ["pool"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0))
POOL_CONNECTIONS = Gauge("webmcp_pool_connections", "Connections of a pool, by state (open = in use + idle).",
                         ["pool", "state"])


def pool_trace(name: str) -> Any:
    """An aiohttp TraceConfig counting a pool's connection creations, reuses and queue waits."""
    import aiohttp

    created, reused, wait = POOL_CREATED.labels(name), POOL_REUSED.labels(name), POOL_WAIT.labels(name)
    trace = aiohttp.TraceConfig()

    async def on_create(session: Any, context: Any, params: Any) -> None:
        created.inc()

    async def on_reuse(session: Any, context: Any, params: Any) -> None:
        reused.inc()

    async def on_queued_start(session: Any, context: Any, params: Any) -> None:
        context.queued_at = _now()

    async def on_queued_end(session: Any, context: Any, params: Any) -> None:
        wait.observe(_now() - getattr(context, "queued_at", _now()))

    trace.on_connection_create_end.append(on_create)
    trace.on_connection_reuseconn.append(on_reuse)
    trace.on_connection_queued_start.append(on_queued_start)
    trace.on_connection_queued_end.append(on_queued_end)
    trace.freeze()
    return trace


def watch_connector(name: str, connector: Any) -> None:
    """Report the connector's open and idle connections when scraped (aiohttp has no public counter of
    them; its `_conns` (idle, per host) and `_acquired` (in use) are read, 0 if they ever go away)."""

    def idle() -> float:
        return float(sum(len(v) for v in getattr(connector, "_conns", {}).values()))

    def open_() -> float:
        return idle() + float(len(getattr(connector, "_acquired", ())))

    POOL_CONNECTIONS.labels(name, "idle").set_function(idle)
    POOL_CONNECTIONS.labels(name, "open").set_function(open_)


def _now() -> float:
    import time

    return time.monotonic()
