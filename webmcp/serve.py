"""Running a server: build the graph, serve a transport, shut down cleanly on signals or end of input."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import BinaryIO

from webmcp.config.spec import ConfigSpec
from webmcp.errors import TransportUnavailable
from webmcp.graph.build import build
from webmcp.graph.holder import GraphHolder

log = logging.getLogger(__name__)


class Lifecycle:
    """What the process does on each signal. Handlers run on the event loop (asyncio's signal
    handling), record what was asked for, and the serving code acts on the two events."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()  # stop taking requests; running calls may finish
        self.force = asyncio.Event()  # stop now: cancel running calls

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.dispatch, sig)

    def dispatch(self, sig: signal.Signals) -> None:
        getattr(self, f"handle_{sig.name[3:].lower()}")()

    def handle_term(self) -> None:
        """SIGTERM: stop reading requests; running calls get `graceful_timeout` to finish. A second
        SIGTERM or SIGINT cancels them at once."""
        if self.stop.is_set():
            log.warning("second stop signal: cancelling running calls")
            self.force.set()
        self.stop.set()

    def handle_int(self) -> None:
        """SIGINT: same as SIGTERM."""
        self.handle_term()

    def handle_hup(self) -> None:
        """SIGHUP: reload the configuration. Reload is not built yet: the signal is logged and ignored,
        so that a hang-up never kills the server."""
        log.warning("SIGHUP received: reload is not available in this version; keeping the current config")


def run(spec: ConfigSpec) -> None:
    if spec.server.transport == "http":
        asyncio.run(_serve_http(spec))
        return
    from webmcp.transports import stdio

    protocol_out = stdio.claim_stdout()  # before any tool code is imported
    asyncio.run(_serve_stdio(spec, protocol_out))


async def _serve_http(spec: ConfigSpec) -> None:
    from aiohttp import web

    from webmcp.transports.http import HttpTransport

    started = time.perf_counter()
    lifecycle = Lifecycle()
    lifecycle.install(asyncio.get_running_loop())
    graph = await build(spec)
    holder = GraphHolder(graph)
    transport = HttpTransport(holder, spec.server)
    # Streams are ended by transport.shutdown(); what is left after that gets a few seconds.
    runner = web.AppRunner(transport.app(), access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    http = spec.server.http
    site = web.TCPSite(runner, http.host, http.port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await holder.current.close(timeout=0)
        raise TransportUnavailable(f"cannot listen on {http.host}:{http.port}: {exc.strerror or exc}") from None
    reaper = asyncio.create_task(transport.reap())
    port = runner.addresses[0][1] if runner.addresses else http.port
    log.info("serving %d tools from %s on http://%s:%d%s (generation %d, built in %.0f ms)", len(graph.catalog),
             spec.source, http.host, port, http.path, graph.generation, (time.perf_counter() - started) * 1000)
    try:
        await lifecycle.stop.wait()
        await site.stop()  # no new connections; requests under way go on
        await transport.shutdown(spec.server.graceful_timeout, lifecycle.force)
    finally:
        reaper.cancel()
        await runner.cleanup()
        await holder.current.close(timeout=0)


async def _serve_stdio(spec: ConfigSpec, protocol_out: BinaryIO) -> None:
    from webmcp.transports import stdio

    started = time.perf_counter()
    lifecycle = Lifecycle()
    lifecycle.install(asyncio.get_running_loop())
    graph = await build(spec)
    holder = GraphHolder(graph)
    log.info("serving %d tools from %s over stdio (generation %d, built in %.0f ms)",
             len(graph.catalog), spec.source, graph.generation, (time.perf_counter() - started) * 1000)
    try:
        await stdio.serve(holder, sys.stdin.buffer, protocol_out, lifecycle.stop, lifecycle.force)
    finally:
        await holder.current.close(timeout=0)
