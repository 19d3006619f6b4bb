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
    if spec.server.transport != "stdio":
        raise TransportUnavailable("the http transport is not available in this version yet; use --transport stdio")
    from webmcp.transports import stdio

    protocol_out = stdio.claim_stdout()  # before any tool code is imported
    asyncio.run(_serve_stdio(spec, protocol_out))


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
