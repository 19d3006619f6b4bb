"""One client connection's protocol state and its message handling. Transport-agnostic.

Contract:
- `receive(message)` is called on the event loop for each decoded message, in arrival order; it
  never raises and never blocks. Everything outgoing goes through the `emit` callback: replies carry
  their request's id; notifications sent during a call name that call's id as the second argument
  (the HTTP transport uses it to pick the stream; stdio has only one).
- tools/call runs in its own task (so it can be cancelled); every other request is answered inline.
- Each call leases the Graph current when it arrived and finishes on it.
- A call cancelled by `notifications/cancelled` gets no reply (as the spec asks), even if the tool
  swallows the cancellation and returns. A CancelledError a tool raises on its own (not cancelled by
  us) is a tool failure with an `isError` reply, never a silent hang.
- After the reply, the call's Context sends nothing more (no progress for finished requests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from webmcp.errors import ProtocolError
from webmcp.graph.graph import Graph
from webmcp.graph.holder import GraphHolder
from webmcp.kinds.tools.results import error_result
from webmcp.protocol import jsonrpc
from webmcp.protocol.context import LEVELS, Context
from webmcp.protocol.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND
from webmcp.protocol.versions import negotiate

log = logging.getLogger(__name__)

class Emit(Protocol):
    def __call__(self, message: dict[str, Any], related: str | int | None = None, /) -> None: ...


class Session:
    def __init__(self, holder: GraphHolder, emit: Emit) -> None:
        self.holder = holder
        holder.sessions.add(self)
        self.emit = emit
        self.protocol_version: str | None = None
        self.log_level: str | None = None
        self.in_flight: dict[str | int, asyncio.Task[None]] = {}
        self._leases: dict[str | int, Graph] = {}
        self._cancelled: set[str | int] = set()
        self._loop = asyncio.get_running_loop()
        self._methods: dict[str, Callable[[Any], Any]] = {
            "initialize": self._initialize,
            "ping": _ping,
            "tools/list": self._tools_list,
            "logging/setLevel": self._set_level,
        }

    # -- entry point -------------------------------------------------------------------------
    def receive(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            if isinstance(msg, list):
                self.emit(jsonrpc.error(None, INVALID_REQUEST, "batch requests are not supported by this protocol "
                                        "revision; send one message per line"))
            else:
                self.emit(jsonrpc.error(None, INVALID_REQUEST, "a JSON-RPC message must be an object"))
            return
        method = msg.get("method")
        if "id" in msg:
            mid = msg["id"]
            if method is None and ("result" in msg or "error" in msg):
                return  # a response to a server->client request; we send none yet
            if msg.get("jsonrpc") != "2.0":
                self.emit(jsonrpc.error(_safe_id(mid), INVALID_REQUEST, 'jsonrpc must be "2.0"'))
                return
            if type(mid) not in (str, int):
                self.emit(jsonrpc.error(None, INVALID_REQUEST, "id must be a string or an integer"))
                return
            if not isinstance(method, str):
                self.emit(jsonrpc.error(mid, INVALID_REQUEST, "method must be a string"))
                return
            params = msg.get("params")
            if params is not None and not isinstance(params, dict):
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, "params must be an object"))
                return
            if method == "tools/call":
                self._start_call(mid, params)
                return
            handler = self._methods.get(method)
            if handler is None:
                self.emit(jsonrpc.error(mid, METHOD_NOT_FOUND, f"Method not found: {method}"))
                return
            try:
                self.emit(jsonrpc.result(mid, handler(params or {})))
            except ProtocolError as exc:
                self.emit(jsonrpc.error(mid, exc.code, exc.message, exc.data))
            except Exception:
                log.exception("%s failed", method)
                self.emit(jsonrpc.error(mid, INTERNAL_ERROR, "Internal error"))
        elif isinstance(method, str):
            self._notification(method, msg.get("params"))
        else:
            self.emit(jsonrpc.error(None, INVALID_REQUEST, "not a request, notification or response"))

    # -- tools/call --------------------------------------------------------------------------
    def _start_call(self, mid: str | int, params: dict[str, Any] | None) -> None:
        if mid in self.in_flight:
            self.emit(jsonrpc.error(mid, INVALID_REQUEST, f"request id {mid!r} is already in use"))
            return
        graph = self._leases[mid] = self.holder.lease()  # the Graph current on arrival
        self.in_flight[mid] = self._loop.create_task(self._call(mid, params or {}, graph))

    def _forget(self, mid: str | int) -> None:
        """Once per call, from its `finally` or (cancelled before it started) its done-callback."""
        if self.in_flight.pop(mid, None) is not None:
            self._leases.pop(mid).release()
        self._cancelled.discard(mid)

    async def _call(self, mid: str | int, params: dict[str, Any], graph: Graph) -> None:
        ctx = None
        try:
            name = params.get("name")
            arguments = params.get("arguments")
            if arguments is None:
                arguments = {}
            tool = graph.tools.get(name) if isinstance(name, str) else None
            if tool is None:
                message = "params.name must be a string" if not isinstance(name, str) else f"Unknown tool: {name}"
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, message))
                return
            if not isinstance(arguments, dict):
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, "params.arguments must be an object"))
                return
            meta = params.get("_meta")
            token = meta.get("progressToken") if isinstance(meta, dict) else None
            ctx = Context(self.emit, self._get_level, tool.name, token, mid)
            result = await tool.call(arguments, ctx)
            if mid not in self._cancelled:
                self.emit({"jsonrpc": "2.0", "id": mid, "result": result})
        except ProtocolError as exc:
            self.emit(jsonrpc.error(mid, exc.code, exc.message, exc.data))
        except asyncio.CancelledError:
            if mid in self._cancelled:
                return  # cancelled by the client: no reply
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # shutdown
            log.error("tools/call %s: the tool raised CancelledError without being cancelled", params.get("name"))
            self.emit({"jsonrpc": "2.0", "id": mid,
                       "result": error_result(f"Tool {params.get('name')!r} failed: it was cancelled internally")})
        except Exception:
            log.exception("tools/call %s failed", params.get("name"))
            self.emit(jsonrpc.error(mid, INTERNAL_ERROR, "Internal error"))
        finally:
            if ctx is not None:
                ctx.close()
            self._forget(mid)

    # -- other methods -----------------------------------------------------------------------
    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params.get("protocolVersion"), str):
            raise ProtocolError(INVALID_PARAMS, "initialize: params.protocolVersion must be a string")
        self.protocol_version = negotiate(params["protocolVersion"])
        server = self.holder.current.spec.server
        result: dict[str, Any] = {
            "protocolVersion": self.protocol_version,
            "capabilities": {"tools": {"listChanged": True}, "logging": {}},
            "serverInfo": {"name": server.name, "version": server.version},
        }
        if server.instructions:
            result["instructions"] = server.instructions
        return result

    def _tools_list(self, params: dict[str, Any]) -> dict[str, Any]:
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise ProtocolError(INVALID_PARAMS, "cursor must be a string")
        page = self.holder.current.page(cursor)
        if page is None:
            raise ProtocolError(INVALID_PARAMS, f"invalid cursor {cursor!r}")
        return page

    def _set_level(self, params: dict[str, Any]) -> dict[str, Any]:
        level = params.get("level")
        if level not in LEVELS:
            raise ProtocolError(INVALID_PARAMS, f"level must be one of {', '.join(LEVELS)}")
        self.log_level = level
        return {}

    def _get_level(self) -> str | None:
        return self.log_level

    def _notification(self, method: str, params: Any) -> None:
        if method == "notifications/cancelled" and isinstance(params, dict):
            rid = params.get("requestId")
            task = self.in_flight.get(rid) if isinstance(rid, (str, int)) else None
            if task is not None:
                self._cancelled.add(rid)  # type: ignore[arg-type]
                task.cancel()
                # Cleanup normally happens in the call's `finally`; a task cancelled before its first
                # step never runs its body, so this callback covers that case.
                task.add_done_callback(lambda _t, mid=rid: self._forget(mid))  # type: ignore[misc]
        # notifications/initialized and unknown notifications need no action

    # -- reload ------------------------------------------------------------------------------
    def notify_tools_changed(self) -> None:
        self.emit({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})

    def cancel_calls_on(self, graph: Graph) -> int:
        """Cancel this session's calls still running on `graph` (a retired generation)."""
        stale = [mid for mid, g in self._leases.items() if g is graph]
        for mid in stale:
            self.in_flight[mid].cancel()
        return len(stale)

    # -- shutdown ----------------------------------------------------------------------------
    async def drain(self, timeout: float, force: asyncio.Event) -> None:
        """Let running calls finish for up to `timeout` seconds (or until `force` is set), then
        cancel what is left."""
        tasks = list(self.in_flight.values())
        if not tasks:
            return
        deadline = self._loop.time() + timeout
        forced = asyncio.ensure_future(force.wait())
        remaining: set[asyncio.Future[Any]] = set(tasks)
        while remaining and not forced.done() and (left := deadline - self._loop.time()) > 0:
            done, _ = await asyncio.wait([*remaining, forced], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            remaining -= done
        forced.cancel()
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d call(s) still running at shutdown", len(pending))
            await asyncio.wait(pending, timeout=5)


def _ping(params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _safe_id(mid: Any) -> str | int | None:
    return mid if type(mid) in (str, int) else None
