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
- A session that adopted a 2026-07-28 envelope serves that revision: one request, no server->client
  requests (questions become `input_required` results), the removed 2025 methods are -32601. Its
  `subscriptions/listen` request stays open: change notifications it opted in to travel on it, tagged
  with its subscription id, until `end_listen()` answers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from webmcp.call import jsonrpc
from webmcp.call.context import LEVELS, OFF, Context, InputRequired
from webmcp.call.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND
from webmcp.call.results import error_result
from webmcp.catalog.completions import complete
from webmcp.catalog.subscriptions import Subscriptions
from webmcp.config.tools import DEFAULT_TIMEOUT
from webmcp.errors import ProtocolError
from webmcp.graph import scopes
from webmcp.graph.graph import Graph
from webmcp.graph.holder import GraphHolder
from webmcp.graph.views import View
from webmcp.protocol.capabilities import capabilities, grant_listen
from webmcp.protocol.client_requests import ClientRequests
from webmcp.protocol.drain import drain
from webmcp.protocol.envelope import MODERN, REMOVED, SUBSCRIPTION_ID_KEY, Envelope
from webmcp.protocol.input_required import Inputs, Seal
from webmcp.protocol.versions import negotiate

log = logging.getLogger(__name__)

METHOD_TIMEOUT = DEFAULT_TIMEOUT  # resources/read and prompts/get functions get the tools' default


class Emit(Protocol):
    def __call__(self, message: dict[str, Any], related: str | int | None = None, /) -> None: ...


class Session:
    def __init__(self, holder: GraphHolder, emit: Emit) -> None:
        self.holder = holder
        holder.sessions.add(self)
        self.emit = emit
        self.client_id = "stdio"  # the transport names its client (HTTP: the session, else the address)
        self.toolset: str | None = None  # the toolset this session is served (its HTTP path, serve --toolset)
        self.keeps_state = True  # False: it serves one request (stateless HTTP, 2026-07-28)
        self.protocol_version: str | None = None
        self.client_capabilities: dict[str, Any] = {}
        self.can_request = True  # the transport can carry server->client requests (not in JSON-only HTTP)
        self.log_level: str | None = None
        self.envelope: Envelope | None = None  # 2026-07-28: what the request's _meta declared
        self._seal: Seal | None = None
        self.listening: str | int | None = None  # the id of this session's open subscriptions/listen
        self.client_requests = ClientRequests(emit)  # server -> client requests (2025 sessions)
        self.in_flight: dict[str | int, asyncio.Task[None]] = {}
        self._leases: dict[str | int, Graph] = {}
        self._cancelled: set[str | int] = set()  # cancelled by the client: no reply
        self._retired: set[str | int] = set()  # cancelled because their Graph retired: an error reply
        self.abandoned: Callable[[str | int], None] = lambda mid: None  # a request ends with no reply (HTTP)
        self.declared: set[str] = set()  # capabilities this session was told about at initialize
        self.can_subscribe = True  # not in stateless HTTP: no session outlives the request
        self._loop = asyncio.get_running_loop()
        self.subscriptions = Subscriptions(lambda: self.holder.current.resources.files, self._notify)
        self._methods: dict[str, Callable[[Any], Any]] = {
            "initialize": self._initialize,
            "server/discover": self._discover,
            "ping": _ping,
            "tools/list": self._tools_list,
            "logging/setLevel": self._set_level,
            "resources/list": lambda p: self._need("resources").list(p),
            "resources/templates/list": lambda p: self._need("resources").list_templates(p),
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": lambda p: self._need("resources") and self.subscriptions.unsubscribe(p),
            "prompts/list": lambda p: self._need("prompts").list(p),
            "completion/complete": lambda p: complete(self.holder.current.resources, self.holder.current.prompts, p),
        }
        # Answered in a task of their own, with a lease, like tools/call.
        self._async_methods: dict[str, Callable[[Graph, dict[str, Any], Context], Awaitable[dict[str, Any]]]] = {
            "resources/read": lambda graph, p, ctx: graph.resources.read(p),
            "prompts/get": lambda graph, p, ctx: graph.prompts.get(p, ctx),
        }

    # -- a 2025 session served by several processes (server.http.sessions) ---------------------
    def state(self) -> dict[str, Any]:
        """What another process needs to serve this session's next requests as this one would."""
        return {"version": self.protocol_version, "capabilities": self.client_capabilities,
                "declared": sorted(self.declared), "level": self.log_level,
                "subscriptions": self.subscriptions.uris(), "toolset": self.toolset, "client": self.client_id}

    def restore(self, state: dict[str, Any]) -> None:
        """Take up `state` (from `state()` in this process or another): the negotiated revision, the
        client's capabilities, the logging level, the toolset, the client's identity and the resource
        subscriptions."""
        self.protocol_version = state.get("version")
        self.client_capabilities = state.get("capabilities") or {}
        self.declared = set(state.get("declared") or ())
        self.log_level = state.get("level")
        self.toolset = state.get("toolset")
        self.client_id = state.get("client") or self.client_id  # the identity it was opened with (a token's subject)
        self.subscriptions.replace(state.get("subscriptions") or ())

    def adopt(self, envelope: Envelope, seal: Seal) -> None:
        """Serve this session's request on the 2026-07-28 revision, as its envelope declares."""
        if envelope.log_level is not None and envelope.log_level not in LEVELS:
            raise ProtocolError(INVALID_PARAMS, f"_meta log level must be one of {', '.join(LEVELS)} "
                                f"(got {envelope.log_level!r})")
        self.envelope = envelope
        self.protocol_version = envelope.version
        self.client_capabilities = dict(envelope.capabilities)
        self.log_level = envelope.log_level or OFF
        self.can_request = False
        self.can_subscribe = False
        self._seal = seal

    # -- entry point -------------------------------------------------------------------------
    def receive(self, msg: Any) -> None:
        malformed = jsonrpc.malformed(msg)
        if malformed is not None:
            self.emit(malformed)
            return
        method = msg.get("method")
        if "id" in msg:
            mid = msg["id"]
            if method is None:
                self.client_requests.answer(mid, msg)
                return
            params = msg.get("params")
            if method == "tools/call":
                self._start_call(mid, params)
                return
            if self.envelope is not None and method in REMOVED:
                self.emit(jsonrpc.error(mid, METHOD_NOT_FOUND, f"Method not found: {method} (protocol revision "
                                        f"{self.envelope.version} has no such method)"))
                return
            if method == "subscriptions/listen" and self.envelope is not None:
                try:
                    self._listen(mid, params or {})
                except ProtocolError as exc:
                    self.emit(jsonrpc.error(mid, exc.code, exc.message, exc.data))
                return
            handler = self._methods.get(method)
            if handler is None:
                run = self._async_methods.get(method)
                if run is not None and self._declared(method):
                    self._start(mid, lambda graph: self._run_method(mid, params or {}, graph, run, method))
                else:
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

    # -- tools/call --------------------------------------------------------------------------
    def _start_call(self, mid: str | int, params: dict[str, Any] | None) -> None:
        self._start(mid, lambda graph: self._call(mid, params or {}, graph))

    def _start(self, mid: str | int, run: Callable[[Graph], Coroutine[Any, Any, None]]) -> None:
        if mid in self.in_flight:
            self.emit(jsonrpc.error(mid, INVALID_REQUEST, f"request id {mid!r} is already in use"))
            return
        graph = self._leases[mid] = self.holder.lease()  # the Graph current on arrival
        self.in_flight[mid] = self._loop.create_task(run(graph))

    def _forget(self, mid: str | int) -> None:
        """Once per call, from its `finally` or (cancelled before it started) its done-callback."""
        if self.in_flight.pop(mid, None) is not None:
            self._leases.pop(mid).release()
        self._cancelled.discard(mid)
        self._retired.discard(mid)

    def _handled_cancel(self, mid: str | int, what: str, as_result: bool) -> bool:
        """A request's task got CancelledError. False: re-raise it (the server is shutting down)."""
        if mid in self._cancelled:
            self.abandoned(mid)  # cancelled by the client: no reply
            return True
        if mid in self._retired:
            text = f"{what} was cancelled: the server reloaded and it outlived graceful_timeout"
        elif asyncio.current_task().cancelling():  # type: ignore[union-attr]
            return False
        else:
            log.error("%s raised CancelledError without being cancelled", what)
            text = f"{what} failed: it was cancelled internally"
        self.emit({"jsonrpc": "2.0", "id": mid, "result": error_result(text)} if as_result
                  else jsonrpc.error(mid, INTERNAL_ERROR, text))
        return True

    def _reply(self, mid: str | int, message: dict[str, Any]) -> None:
        if mid in self._cancelled:
            self.abandoned(mid)  # the tool swallowed the client's cancellation: still no reply
        else:
            self.emit(message)

    async def _call(self, mid: str | int, params: dict[str, Any], graph: Graph) -> None:
        ctx = None
        try:
            name = params.get("name")
            arguments = params.get("arguments")
            if arguments is None:
                arguments = {}
            view = self.view_of(graph)
            tool = view.tools.get(name) if isinstance(name, str) and view is not None else None
            if tool is None:
                message = "params.name must be a string" if not isinstance(name, str) else f"Unknown tool: {name}"
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, message))
                return
            if not isinstance(arguments, dict):
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, "params.arguments must be an object"))
                return
            lacking = scopes.missing(tool, arguments)
            if lacking:  # the HTTP transport answers 403 before this; here for any other way in
                self.emit(jsonrpc.error(mid, INVALID_PARAMS, scopes.refusal(tool.name, lacking), {"scopes": lacking}))
                return
            meta = params.get("_meta")
            token = meta.get("progressToken") if isinstance(meta, dict) else None
            ctx = Context(self, tool.name, token, mid)
            if self._seal is not None:
                ctx.inputs = Inputs(self._seal, "tools/call", tool.name, arguments, params)
            result = await tool.call(arguments, ctx)
            self._reply(mid, {"jsonrpc": "2.0", "id": mid, "result": result})
        except InputRequired:
            assert ctx is not None and ctx.inputs is not None
            self._reply(mid, jsonrpc.result(mid, ctx.inputs.result()))
        except ProtocolError as exc:
            self.emit(jsonrpc.error(mid, exc.code, exc.message, exc.data))
        except asyncio.CancelledError:
            if not self._handled_cancel(mid, f"Tool {params.get('name')!r}", as_result=True):
                raise
        except Exception:
            log.exception("tools/call %s failed", params.get("name"))
            self.emit(jsonrpc.error(mid, INTERNAL_ERROR, "Internal error"))
        finally:
            if ctx is not None:
                ctx.close()
            self._forget(mid)

    async def _run_method(
        self, mid: str | int, params: dict[str, Any], graph: Graph,
        run: Callable[[Graph, dict[str, Any], Context], Awaitable[dict[str, Any]]], method: str,
    ) -> None:
        """An async method other than tools/call (whose path above is kept lean on purpose)."""
        meta = params.get("_meta")
        target = params.get("name") or params.get("uri")
        ctx = Context(self, f"{method} {target}", meta.get("progressToken") if isinstance(meta, dict) else None, mid)
        try:
            if self._seal is not None and method == "prompts/get":
                ctx.inputs = Inputs(self._seal, method, str(target), params.get("arguments"), params)
            try:
                async with asyncio.timeout(METHOD_TIMEOUT):
                    result = await run(graph, params, ctx)
            except TimeoutError:
                raise ProtocolError(INTERNAL_ERROR, f"request {mid!r} timed out after {METHOD_TIMEOUT:g}s") from None
            self._reply(mid, jsonrpc.result(mid, result))
        except InputRequired:
            assert ctx.inputs is not None
            self._reply(mid, jsonrpc.result(mid, ctx.inputs.result()))
        except ProtocolError as exc:
            self.emit(jsonrpc.error(mid, exc.code, exc.message, exc.data))
        except asyncio.CancelledError:
            if not self._handled_cancel(mid, f"request {mid!r}", as_result=False):
                raise
        except Exception:
            log.exception("request %r failed", mid)
            self.emit(jsonrpc.error(mid, INTERNAL_ERROR, "Internal error"))
        finally:
            ctx.close()
            self._forget(mid)

    def _subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        resources = self._need("resources")
        if not self.can_subscribe:
            raise ProtocolError(METHOD_NOT_FOUND, "subscriptions need a session, which stateless mode does not keep")
        uri = params.get("uri")
        if isinstance(uri, str) and not resources.knows(uri):
            raise ProtocolError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}", {"uri": uri})
        result: dict[str, Any] = self.subscriptions.subscribe(params)
        return result

    def _declared(self, method: str) -> bool:
        """Is the capability behind `method` served by the current config?"""
        return bool(getattr(self.holder.current, method.split("/")[0]))

    def _need(self, capability: str) -> Any:
        surface = getattr(self.holder.current, capability)
        if not surface:
            raise ProtocolError(METHOD_NOT_FOUND, f"this server has no {capability} (none are configured)")
        return surface

    # -- other methods -----------------------------------------------------------------------
    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params.get("protocolVersion"), str):
            raise ProtocolError(INVALID_PARAMS, "initialize: params.protocolVersion must be a string")
        self.protocol_version = negotiate(params["protocolVersion"])
        declared = params.get("capabilities")
        self.client_capabilities = declared if isinstance(declared, dict) else {}
        graph = self.holder.current
        server = graph.spec.server
        offered = capabilities(graph, sessionless=False, streams=self.can_subscribe)
        self.declared = set(offered)
        return {"protocolVersion": self.protocol_version, "capabilities": offered,
                "serverInfo": {"name": server.name, "version": server.version},
                **({"instructions": server.instructions} if server.instructions else {})}

    def _discover(self, params: dict[str, Any]) -> dict[str, Any]:
        """server/discover (2026-07-28): the revisions and capabilities this server offers."""
        if self.envelope is None:
            raise ProtocolError(METHOD_NOT_FOUND, "Method not found: server/discover (it belongs to protocol "
                                f"revision {MODERN[0]}; this session speaks {self.protocol_version})")
        graph = self.holder.current
        instructions = graph.spec.server.instructions
        return {"supportedVersions": list(MODERN), "capabilities": capabilities(graph, sessionless=True),
                **({"instructions": instructions} if instructions else {})}

    def _tools_list(self, params: dict[str, Any]) -> dict[str, Any]:
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise ProtocolError(INVALID_PARAMS, "cursor must be a string")
        graph = self.holder.current
        view = self.view_of(graph)
        if view is None:
            raise ProtocolError(INVALID_PARAMS, f"this server has no toolset {self.toolset!r} any more")
        page = view.page(cursor)
        if page is None:
            raise ProtocolError(INVALID_PARAMS, f"invalid cursor {cursor!r}")
        return scopes.visible(page, graph, hinted=self.envelope is not None)

    def view_of(self, graph: Graph) -> View | None:
        """The one place that decides which tools this session sees and may call: its toolset's view of `graph`
        (None when a reload removed that toolset)."""
        return graph.view(self.toolset)

    def _set_level(self, params: dict[str, Any]) -> dict[str, Any]:
        level = params.get("level")
        if level not in LEVELS:
            raise ProtocolError(INVALID_PARAMS, f"level must be one of {', '.join(LEVELS)}")
        self.log_level = level
        return {}

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
    def notify_list_changed(self, what: str) -> None:
        """notifications/{what}/list_changed, for tools, prompts or resources; only to a session that was
        told about that capability at initialize (capabilities are not renegotiated), or whose
        subscriptions/listen opted in to it."""
        if what not in self.declared:
            return
        self._notify({"jsonrpc": "2.0", "method": f"notifications/{what}/list_changed"})

    def _notify(self, message: dict[str, Any]) -> None:
        """A notification tied to no request: on a listen stream it rides that request, tagged."""
        if self.listening is None:
            self.emit(message)
            return
        params = dict(message.get("params") or {})
        params["_meta"] = {**(params.get("_meta") or {}), SUBSCRIPTION_ID_KEY: self.listening}
        self.emit({**message, "params": params}, self.listening)

    # -- subscriptions/listen (2026-07-28) ---------------------------------------------------
    def _listen(self, mid: str | int, params: dict[str, Any]) -> None:
        """Open the change-notification stream the request asks for, and acknowledge what it gets."""
        granted, lists, uris = grant_listen(params, self.holder.current)
        self.declared |= lists
        for uri in uris:
            self.subscriptions.subscribe({"uri": uri})
        self.listening = mid
        self._notify({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                      "params": {"notifications": granted}})

    def end_listen(self) -> None:
        """Answer the open listen request: the subscription ends gracefully (server shutdown)."""
        if self.listening is not None:
            mid, self.listening = self.listening, None
            self.subscriptions.close()
            self.emit(jsonrpc.result(mid, {"_meta": {SUBSCRIPTION_ID_KEY: mid}}))

    def cancel_calls_on(self, graph: Graph) -> int:
        """Cancel this session's calls still running on `graph` (a retired generation)."""
        stale = [mid for mid, g in self._leases.items() if g is graph]
        for mid in stale:
            self._retired.add(mid)
            self.in_flight[mid].cancel()
        return len(stale)

    # -- shutdown ----------------------------------------------------------------------------
    def close(self) -> None:
        """The connection is gone: stop background work tied to it."""
        self.subscriptions.close()

    async def drain(self, timeout: float, force: asyncio.Event) -> None:
        """Let running calls finish for up to `timeout` seconds (or until `force` is set), then
        cancel what is left."""
        await drain(list(self.in_flight.values()), timeout, force)


def _ping(params: dict[str, Any]) -> dict[str, Any]:
    return {}

