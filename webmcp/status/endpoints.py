"""HTTP endpoints of telemetry: /metrics (Prometheus) on the MCP listener, and a separate listener
(`telemetry.listen`) for servers whose transport is stdio, with /metrics, /healthz and /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from webmcp.errors import TransportUnavailable

if TYPE_CHECKING:
    from webmcp.graph.holder import GraphHolder


async def metrics(request: web.Request) -> web.StreamResponse:
    from webmcp.status.metrics import exposition  # prometheus_client loads at the first scrape

    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def add_routes(app: web.Application, exposition: Callable[[], Awaitable[tuple[bytes, str]]] | None = None) -> None:
    """Add GET /metrics to an app (the HTTP transport's): this process's metrics, or what `exposition()`
    answers (a worker's: the whole server's, from its supervisor)."""
    if exposition is None:
        app.router.add_get("/metrics", metrics)
        return
    merged = exposition

    async def merged_metrics(request: web.Request) -> web.StreamResponse:
        try:
            body, content_type = await merged()
        except (ConnectionError, TimeoutError) as exc:
            return web.Response(status=503, text=f"metrics unavailable: {exc or type(exc).__name__}\n")
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    app.router.add_get("/metrics", merged_metrics)


def add_health_routes(app: web.Application, holder: GraphHolder, closing: Callable[[], bool],
                      extra: Callable[[], dict[str, Any]] = dict) -> None:
    """GET /healthz (liveness: the process answers) and /readyz (readiness for a load balancer: 200
    while taking new work, 503 once shutting down), with `extra()` figures in the readiness body."""

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.StreamResponse:
        graph = holder.current
        stopping = closing()
        body = {"status": "stopping" if stopping else "ready", "generation": graph.generation,
                "tools": len(graph.catalog), **extra()}
        return web.json_response(body, status=503 if stopping else 200)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


LISTEN_HEADER_TIMEOUT = 10.0  # seconds a telemetry connection has to send its request headers


async def listen(host: str, port: int, holder: GraphHolder, stopping: asyncio.Event) -> web.AppRunner:
    """Serve /metrics, /healthz and /readyz on host:port until the returned runner is cleaned up. Requests are
    small GETs: a connection that has not sent complete headers within LISTEN_HEADER_TIMEOUT is closed (aiohttp's
    keep-alive timer), and a body is never read past 64 KiB. (The caller caps the connections.)"""
    app = web.Application(client_max_size=64 * 1024)
    add_routes(app)
    add_health_routes(app, holder, stopping.is_set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1,
                           keepalive_timeout=LISTEN_HEADER_TIMEOUT, lingering_time=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise TransportUnavailable(f"telemetry.listen: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return runner
