"""The HTTP listener against greedy clients: a cap on open connections, in total and per client address.
(Against slow ones: the body deadline is in `HttpTransport._guard`; the header deadline is aiohttp's
keep-alive timer, which closes a connection still waiting for a complete request:
`keepalive_timeout=header_timeout`, set by server/serve.py.)

Contract:
- A connection over either cap is answered 503 (a JSON-RPC error, `Retry-After`) and closed a second
  later; no byte of it is read and it never reaches the app. It is not counted. Connections from
  trusted proxies count only against the total.
- Counting runs on the event loop only (aiohttp's Server calls `connection_made`/`connection_lost` there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from webmcp.call import jsonrpc
from webmcp.call.jsonrpc import INVALID_REQUEST
from webmcp.config.spec import HttpSpec
from webmcp.transports.http_access import Clients, address_bucket

log = logging.getLogger(__name__)

_REFUSAL_LOG_INTERVAL = 10.0  # seconds between two warnings about refused connections
_LINGER = 1.0  # seconds a refused client has to read its 503
_RESERVED_DESCRIPTORS = 64


class ConnectionCap:
    def __init__(self, http: HttpSpec, clients: Clients) -> None:
        self.total = min(http.max_connections, _descriptors_left())
        if self.total < http.max_connections:
            log.info("server.http.max_connections is %d, but the process may open %d more files: %d connections "
                     "at most", http.max_connections, _descriptors_left(), self.total)
        self.per_client = http.max_connections_per_client
        self._clients = clients
        self._open: dict[Any, str | None] = {}  # handler -> its client (None: a trusted proxy)
        self._by_client: Counter[str] = Counter()
        self.refused = 0
        self._logged_at = 0.0

    def install(self, server: web.Server) -> None:
        """Count `server`'s connections, refusing those over a cap (wraps its connection callbacks)."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: web.RequestHandler, transport: Any) -> None:
            made(handler, transport)
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            client = None if self._clients.is_proxy(address) else address_bucket(address)
            why = self._over(client)
            if why is not None:
                self._refuse(handler, transport, address, why)
                return
            self._open[handler] = client
            if client is not None:
                self._by_client[client] += 1

        def connection_lost(handler: web.RequestHandler, exc: BaseException | None = None) -> None:
            if handler in self._open:
                client = self._open.pop(handler)
                if client is not None:
                    self._by_client[client] -= 1
                    if not self._by_client[client]:
                        del self._by_client[client]
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _over(self, client: str | None) -> str | None:
        if len(self._open) >= self.total:
            return f"{self.total} open connections (server.http.max_connections)"
        if client is not None and self._by_client[client] >= self.per_client:
            return f"{self.per_client} open connections from one client (server.http.max_connections_per_client)"
        return None

    def _refuse(self, handler: web.RequestHandler, transport: Any, address: str, why: str) -> None:
        self.refused += 1
        body = orjson.dumps(jsonrpc.error(None, INVALID_REQUEST, f"too many connections: {why}; try again later"))
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        # Closing at once, with the client's request unread, would reset the connection before it reads the
        # answer: end our side, read nothing more, and close after a second.
        if transport.can_write_eof():
            transport.write_eof()
        handler.close()
        asyncio.get_running_loop().call_later(_LINGER, handler.force_close)
        now = time.monotonic()
        if now - self._logged_at >= _REFUSAL_LOG_INTERVAL:
            self._logged_at = now
            log.warning("refused a connection from %s: %s (%d refused so far)", address, why, self.refused)


def _descriptors_left() -> int:
    """File descriptors this process may still open for connections (its soft limit, less some for files,
    pipes and upstream connections)."""
    try:
        import resource
    except ImportError:  # Windows
        return 1 << 30
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 30 if soft == resource.RLIM_INFINITY else max(16, soft - _RESERVED_DESCRIPTORS)
