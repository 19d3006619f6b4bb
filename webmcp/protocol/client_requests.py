"""Requests from the server to the client (sampling, elicitation, roots) on a 2025 session, and the
matching of the client's answers to them.

Contract: used from the event loop only. Each request gets an id of its own (`webmcp-N`, or
`webmcp-NODE-N` when sessions are shared between processes, so that an answer reaching another process
can be routed to the one waiting for it: `node_of`), never a client's id; an answer to an unknown or
finished request is ignored; a request the transport cannot deliver fails at once (`fail`), never at
the tool's timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from webmcp.errors import ClientRequestError

log = logging.getLogger(__name__)


PREFIX = "webmcp-"


def node_of(rid: Any) -> str:
    """The process (node) that sent request `rid`: "" for this one, or an id not of ours."""
    if not isinstance(rid, str) or not rid.startswith(PREFIX):
        return ""
    return rid[len(PREFIX):].rpartition("-")[0]


class ClientRequests:
    def __init__(self, emit: Any, node: str = "") -> None:
        self._emit = emit
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._count = 0
        self.prefix = f"{PREFIX}{node}-" if node else PREFIX

    async def send(self, method: str, params: dict[str, Any], related: str | int | None) -> dict[str, Any]:
        """Send the request on the stream of request `related` and wait for the client's result."""
        self._count += 1
        rid = f"{self.prefix}{self._count}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        try:
            self._emit({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, related)
            return await future
        finally:
            self._waiting.pop(rid, None)

    def fail(self, rid: str, reason: str) -> None:
        """The transport could not deliver request `rid`: end its wait now."""
        self.answer(rid, {"error": {"message": reason}})

    def answer(self, mid: Any, msg: dict[str, Any]) -> None:
        """The client's response `msg` to request `mid`."""
        future = self._waiting.get(mid) if isinstance(mid, str) else None
        if future is None or future.done():
            log.debug("response to an unknown or finished request %r ignored", mid)
            return
        error = msg.get("error")
        if error is not None:
            message = error.get("message", "error") if isinstance(error, dict) else str(error)
            future.set_exception(ClientRequestError(f"{message}"))
        elif isinstance(msg.get("result"), dict):
            future.set_result(msg["result"])
        else:
            future.set_exception(ClientRequestError("the client's answer has no result object"))
