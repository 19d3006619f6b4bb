"""Running a server: build the graph, serve a transport, shut down cleanly on signals or end of input."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time

from webmcp.config.spec import ConfigSpec
from webmcp.errors import WebmcpError
from webmcp.graph.build import build
from webmcp.graph.holder import GraphHolder

log = logging.getLogger(__name__)


class TransportUnavailable(WebmcpError):
    exit_code = 2


def run(spec: ConfigSpec) -> None:
    if spec.server.transport != "stdio":
        raise TransportUnavailable(
            "the http transport is not available in this version yet; use --transport stdio"
        )
    from webmcp.transports import stdio

    protocol_out = stdio.claim_stdout()  # before any tool code is imported
    asyncio.run(_serve_stdio(spec, protocol_out))


async def _serve_stdio(spec: ConfigSpec, protocol_out: object) -> None:
    from webmcp.transports import stdio

    started = time.perf_counter()
    graph = await build(spec)
    holder = GraphHolder(graph)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("serving %d tools from %s over stdio (generation %d, built in %.0f ms)",
             len(graph.catalog), spec.source, graph.generation, (time.perf_counter() - started) * 1000)
    try:
        await stdio.serve(holder, sys.stdin.buffer, protocol_out, stop)  # type: ignore[arg-type]
    finally:
        await holder.current.close(timeout=0)
