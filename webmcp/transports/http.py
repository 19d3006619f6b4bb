"""MCP over Streamable HTTP (aiohttp): one endpoint answering POST, GET and DELETE.

Contract:
- POST carries one JSON-RPC message. A notification or a response gets 202. A request gets its reply
  as `application/json`, unless the call sends something first (progress, a log message): then the
  reply switches to an SSE stream carrying those messages and, last, the reply itself.
- Sessions (2025 revisions): `initialize` creates one and returns `Mcp-Session-Id`; every later
  request must carry it (400 without, 404 when unknown or ended). DELETE ends it. Idle sessions are
  reaped after `session_idle_timeout`; their running calls are cancelled. Any worker or instance
  sharing the session store serves any session (http_sessions.py); 503 when the store cannot answer.
- GET opens the session's one standalone SSE stream, for messages not tied to a request; a new one
  replaces the one before.
- Stateless mode: no sessions; each POST is served on its own (load balancers may send any request
  to any instance); replies are JSON only.
- Revision 2026-07-28 (`MCP-Protocol-Version: 2026-07-28`, or a request carrying its `_meta` envelope
  without a session) is sessionless in every mode: each POST is one request served on its own, with
  the HTTP status its error code maps to (400, 404), and JSON or SSE as for the 2025 revisions.
- Every request to the endpoint passes the Host/Origin check (DNS-rebinding protection), the bearer
  token check when one is configured (a static token, or OAuth access tokens: http_auth.py; a session
  opened with an access token answers only to tokens of the same subject), and the body size limit
  (413); its body is read in full within `body_timeout` (else 408). Connections are capped and must send
  their headers within `header_timeout` (http_limits.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import orjson
from aiohttp import web

from webmcp.call import jsonrpc
from webmcp.call.jsonrpc import INVALID_REQUEST, PARSE_ERROR
from webmcp.config.spec import ServerSpec
from webmcp.errors import ProtocolError
from webmcp.graph.holder import GraphHolder
from webmcp.protocol import envelope, param_headers
from webmcp.protocol.input_required import Seal
from webmcp.protocol.versions import SUPPORTED
from webmcp.status.endpoints import add_health_routes
from webmcp.transports.http_access import Clients, allowed_hosts, env_token, host_name, origin_host, static_token
from webmcp.transports.http_admin import Admin, add_admin_routes
from webmcp.transports.http_auth import Authorization, is_owner
from webmcp.transports.http_limits import ConnectionCap
from webmcp.transports.http_session import END, HttpSession, Reply, end_alone, is_reply_to
from webmcp.transports.http_sessions import STATE_METHODS, SessionTable
from webmcp.transports.session_store import LocalStore, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
# Revisions a client may name in the header; 2025-03-26 is what a client sends before it knows better.
_HEADER_VERSIONS = frozenset({*SUPPORTED, "2025-03-26"})
_ROUTING_HEADERS = ("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name")
_JSON = "application/json"
KEEPALIVE = 15.0  # seconds of silence on an event stream before a comment line keeps it open
_SSE = "text/event-stream"


def toolset_route(path: str) -> str:
    """The route of the toolsets' endpoints beside `path`: `/mcp/{toolset}`."""
    return path.rstrip("/") + "/{toolset}"


class HttpTransport:
    def __init__(self, holder: GraphHolder, server: ServerSpec, admin: Admin | None = None,
                 state_key: bytes | None = None, store: SessionStore | None = None) -> None:
        """`state_key` signs requestState when `server.request_state.secret_env` names none (the workers of
        one supervisor share one; a lone server makes its own). `store` holds the 2025 sessions' records
        (server.http.sessions; default: this process alone)."""
        self.holder = holder
        self.admin = admin
        self.server = server
        http = server.http
        self.stateless = http.stateless
        self.json_only = http.stateless or http.json_response
        self.sessions = SessionTable(store or LocalStore(), holder, http, self.json_only)
        self.closing = False  # set at shutdown: /readyz says 503 and new sessions are refused
        self.listeners: set[HttpSession] = set()  # open 2026-07-28 subscriptions/listen streams
        self.alone: set[HttpSession] = set()  # requests served without a session (stateless, 2026-07-28)
        self._allowed_hosts = allowed_hosts(server)
        self._clients = Clients(http.trusted_proxies)
        self.auth = Authorization(http, holder)  # static token and/or OAuth access tokens (http_auth.py)
        self._admin_token = static_token(http.admin_token_env, "admin_token_env")
        # What the token guards: the endpoint, and /metrics (tool names and call counts); the probes stay open.
        self._guarded = frozenset({http.path, "/metrics"})
        state = server.request_state
        self._seal = Seal(env_token(state.secret_env, "request_state.secret_env", "server") or state_key, state.ttl)

    # -- the app -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Before serving: join the processes sharing the session store."""
        await self.sessions.start()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.server.max_message_size, middlewares=[self._guard])
        path = self.server.http.path
        app.router.add_post(path, self.post)
        app.router.add_get(path, self.get)
        app.router.add_delete(path, self.delete)
        if self._admin_token is not None and self.admin is not None:
            add_admin_routes(app, self.admin, self._admin_token)
        self.auth.add_routes(app, path)
        add_health_routes(app, self.holder, lambda: self.closing, lambda: {"sessions": len(self.sessions)})
        # Each toolset's endpoint (graph/toolsets.py), last: with `path: /` its pattern would match /metrics too.
        route = toolset_route(path)
        app.router.add_post(route, self.post)
        app.router.add_get(route, self.get)
        app.router.add_delete(route, self.delete)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        host = host_name(request.host or "")  # "" when the Host value is malformed
        if self._allowed_hosts is not None:
            if host not in self._allowed_hosts:
                return _error_response(421, None, INVALID_REQUEST, f"Host {request.host!r} is not allowed")
            if origin is not None and origin_host(origin) not in self._allowed_hosts:
                return _error_response(403, None, INVALID_REQUEST, f"Origin {origin!r} is not allowed")
        elif origin is not None and (not host or origin_host(origin) != host):
            # A public bind without an allow-list still refuses cross-origin browser requests.
            return _error_response(403, None, INVALID_REQUEST, f"Origin {origin!r} is not allowed "
                                   "(set server.http.allowed_hosts to allow other origins)")
        bad = next((name for name, value in request.headers.items()
                    if name.lower().startswith("mcp-") and not _is_utf8(value)), None)
        if bad is not None:  # echoed into an error, it could not even be serialised
            return _error_response(400, None, INVALID_REQUEST, f"the {bad} header is not valid UTF-8")
        toolset = request.match_info.get("toolset")
        if (request.path in self._guarded or toolset is not None) and self.auth.active:
            denied = await self.auth.check(request)
            if denied is not None:
                return denied
        if toolset is not None and self.holder.current.view(toolset) is None:
            return _error_response(404, None, INVALID_REQUEST, f"no toolset {toolset!r} on this server")
        try:
            if request.body_exists:  # read here, in full, within body_timeout; handlers get it from memory
                deadline = self.server.http.body_timeout
                try:
                    async with asyncio.timeout(deadline):
                        body = await request.read()
                except TimeoutError:
                    response = _error_response(408, None, INVALID_REQUEST, f"the request body did not arrive "
                                               f"within {deadline:g}s (server.http.body_timeout)")
                    response.force_close()
                    return response
                denied = self.auth.check_call(request, body)
                if denied is not None:
                    return denied
            return await handler(request)  # type: ignore[no-any-return]
        except web.HTTPRequestEntityTooLarge:
            limit = self.server.max_message_size
            return _error_response(413, None, INVALID_REQUEST, f"message too large: over {limit} bytes")

    def limit_connections(self, listener: web.Server) -> ConnectionCap:
        """Cap the open connections of `listener` (server.http.max_connections[_per_client])."""
        cap = ConnectionCap(self.server.http, self._clients)
        cap.install(listener)
        return cap

    # -- POST --------------------------------------------------------------------------------
    async def post(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != _JSON:
            return _error_response(415, None, INVALID_REQUEST, "Content-Type must be application/json")
        accept = request.headers.get("Accept", "*/*").lower()
        wants_sse = _SSE in accept or "*/*" in accept
        sse_only = _SSE in accept and _JSON not in accept and "*/*" not in accept
        if not (wants_sse or _JSON in accept):
            return _error_response(406, None, INVALID_REQUEST, "Accept must include application/json")
        try:
            msg = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _error_response(400, None, PARSE_ERROR, f"Parse error: {exc}")
        if not isinstance(msg, dict):
            what = "batch requests are not supported" if isinstance(msg, list) else "a message must be an object"
            return _error_response(400, None, INVALID_REQUEST, what)
        mid = msg.get("id")
        version = request.headers.get(VERSION_HEADER)
        if version in envelope.MODERN or (version not in _HEADER_VERSIONS and SESSION_HEADER not in request.headers
                                          and envelope.is_modern(msg.get("params"))):
            return await self._post_sessionless(request, msg, wants_sse, sse_only)
        if version is not None and version not in _HEADER_VERSIONS:
            supported = ", ".join(sorted(_HEADER_VERSIONS))
            return _error_response(400, mid, INVALID_REQUEST, f"unsupported {VERSION_HEADER}: {version} "
                                   f"(this server speaks {supported})")
        is_request = isinstance(msg.get("method"), str) and "id" in msg
        if is_request and type(mid) not in (str, int):
            return _error_response(400, None, INVALID_REQUEST, "id must be a string or an integer")
        is_notification = isinstance(msg.get("method"), str) and "id" not in msg
        is_response = "method" not in msg and "id" in msg and ("result" in msg or "error" in msg)
        if not (is_request or is_notification or is_response):
            return _error_response(400, None, INVALID_REQUEST, "not a JSON-RPC request, notification or response")

        new_sid = None
        if self.stateless:
            if self.closing and is_request:
                return _error_response(503, mid, INVALID_REQUEST, "the server is shutting down",
                                       {"Retry-After": "1"})
            hs = HttpSession(None, self.holder, json_only=True, client=self._clients.of(request, None))
            hs.session.can_subscribe = False
            hs.session.toolset = request.match_info.get("toolset")
        elif is_request and msg["method"] == "initialize":
            if self.closing:
                return _error_response(503, mid, INVALID_REQUEST, "the server is shutting down",
                                       {"Retry-After": "1"})
            new_sid = secrets.token_urlsafe(24)
            opened = self.sessions.open(new_sid, self._clients.of(request, new_sid))
            if opened is None:
                return _error_response(503, mid, INVALID_REQUEST, "too many sessions; try again later",
                                       {"Retry-After": "5"})
            hs = opened
            hs.session.toolset = request.match_info.get("toolset")
        else:
            found = await self._session_of(request, mid)
            if isinstance(found, web.Response):
                return found
            hs = found

        if not is_request:
            self.sessions.receive(hs, msg)  # notification, or the client's response to our request
            return web.Response(status=202)
        if mid in hs.replies:
            return _error_response(409, mid, INVALID_REQUEST, f"request id {mid!r} is already in use")
        reply = Reply(json_only=hs.json_only or not wants_sse)
        hs.replies[mid] = reply
        if hs.id is None:
            self.alone.add(hs)  # drained at shutdown like the sessions' calls
        try:
            hs.session.receive(msg)
            first = await reply.next()
            if first is END:
                return web.Response(status=202)  # cancelled by the client: nothing to answer
            headers = {SESSION_HEADER: new_sid} if new_sid else None
            if new_sid and "error" in first:  # a failed initialize opens no session
                self.sessions.discard(hs)
                headers = None
            elif new_sid or (hs.id is not None and msg["method"] in STATE_METHODS and "result" in first):
                try:  # saved before the reply leaves: the next request may reach another process
                    await (self.sessions.opened(hs) if new_sid else self.sessions.changed(hs))
                except StoreUnavailable as exc:
                    if new_sid:
                        self.sessions.discard(hs)
                    return _store_down(mid, exc)
            if is_reply_to(first, mid) and not sse_only:
                return _json_response(first, headers)
            return await self._stream(request, reply, first, mid, headers)
        finally:
            del hs.replies[mid]
            if hs.id is None:
                self.alone.discard(hs)
                end_alone(hs)  # stateless: this POST was the whole session

    async def _post_sessionless(
        self, request: web.Request, msg: dict[str, Any], wants_sse: bool, sse_only: bool
    ) -> web.StreamResponse:
        """One 2026-07-28 request: its envelope checked, served by a session of its own."""
        mid, method = msg.get("id"), msg.get("method")
        if "id" not in msg and isinstance(method, str):
            return web.Response(status=202)  # a notification: without a session there is nothing to act on
        if not isinstance(method, str) or type(mid) not in (str, int):
            return _error_response(400, mid, INVALID_REQUEST, "not a JSON-RPC request (protocol revision "
                                   f"{envelope.MODERN[0]} takes one request per POST; id a string or an integer)")
        if method == "subscriptions/listen" and not wants_sse:
            return _error_response(406, mid, INVALID_REQUEST, "subscriptions/listen answers with an event stream: "
                                   "Accept must include text/event-stream")
        server = self.holder.current.spec.server

        def finish(message: dict[str, Any]) -> dict[str, Any]:
            return envelope.finish(message, method, server) if is_reply_to(message, mid) else message

        hs = HttpSession(None, self.holder, json_only=not wants_sse, client=self._clients.of(request, None))
        hs.session.toolset = request.match_info.get("toolset")
        try:
            repeated = next((h for h in _ROUTING_HEADERS if len(request.headers.getall(h, ())) > 1), None)
            if repeated is not None:
                raise ProtocolError(envelope.HEADER_MISMATCH, f"the {repeated} header appears more than once")
            if self.closing:
                return _error_response(503, mid, INVALID_REQUEST, "the server is shutting down", {"Retry-After": "1"})
            params = msg.get("params")
            hs.session.adopt(envelope.read(method, params, request.headers), self._seal)
            if method == "tools/call" and isinstance(params, dict) and isinstance(params.get("name"), str):
                marks = param_headers.of_tool(self.holder.current, params["name"])
                if marks:
                    param_headers.check(marks, params.get("arguments"), request.headers)
        except ProtocolError as exc:
            hs.session.close()
            error = finish(jsonrpc.error(mid, exc.code, exc.message, exc.data))
            return _json_response(error, None, envelope.status_of(error))
        reply = hs.replies[mid] = Reply(json_only=hs.json_only)
        if method == "subscriptions/listen":
            if len(self.listeners) >= self.server.http.max_sessions:
                hs.session.close()
                return _error_response(503, mid, INVALID_REQUEST, "too many listen streams; try again later",
                                       {"Retry-After": "5"})
            self.listeners.add(hs)
        self.alone.add(hs)
        try:
            hs.session.receive(msg)
            first = await reply.next()
            if first is END:
                return web.Response(status=202)
            if is_reply_to(first, mid) and not sse_only:
                answer = finish(first)
                return _json_response(answer, None, envelope.status_of(answer))
            return await self._stream(request, reply, first, mid, None, finish)
        finally:
            self.listeners.discard(hs)
            self.alone.discard(hs)
            end_alone(hs)

    async def _stream(
        self, request: web.Request, reply: Reply, first: dict[str, Any], mid: Any, headers: dict[str, str] | None,
        finish: Any = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": _SSE, "Cache-Control": "no-cache", **(headers or {})})
        await response.prepare(request)
        message = first
        try:
            while message is not END:
                await response.write(_event(finish(message) if finish is not None else message))
                if is_reply_to(message, mid):
                    break
                while True:
                    try:
                        message = await asyncio.wait_for(reply.next(), KEEPALIVE)
                        break
                    except TimeoutError:
                        await response.write(b": keep-alive\n\n")  # proxies close silent streams
        except ConnectionError:
            log.debug("client went away while a reply was streaming")  # the call goes on; it was not cancelled
        return response

    # -- GET, DELETE -------------------------------------------------------------------------
    async def get(self, request: web.Request) -> web.StreamResponse:
        if self.stateless:
            return _error_response(405, None, INVALID_REQUEST, "stateless mode has no standalone stream")
        if _SSE not in request.headers.get("Accept", ""):
            return _error_response(406, None, INVALID_REQUEST, "Accept must include text/event-stream")
        hs = await self._session_of(request, None)
        if isinstance(hs, web.Response):
            return hs
        try:
            stream = await self.sessions.take_stream(hs)
        except StoreUnavailable as exc:
            return _store_down(None, exc)
        response = web.StreamResponse(headers={"Content-Type": _SSE, "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            while True:
                try:
                    message = await asyncio.wait_for(stream.queue.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")  # proxies close silent streams
                    continue
                if message is None:
                    break
                await response.write(_event(message))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.lose_stream(hs, stream)
        return response

    async def delete(self, request: web.Request) -> web.StreamResponse:
        if self.stateless:
            return _error_response(405, None, INVALID_REQUEST, "stateless mode has no sessions")
        hs = await self._session_of(request, None)
        if isinstance(hs, web.Response):
            return hs
        try:
            await self.sessions.delete(hs)
        except StoreUnavailable as exc:
            return _store_down(None, exc)
        return web.Response(status=200)

    async def _session_of(self, request: web.Request, mid: Any) -> HttpSession | web.Response:
        sid = request.headers.get(SESSION_HEADER)
        if sid is None:
            return _error_response(400, mid, INVALID_REQUEST, f"missing {SESSION_HEADER} header; "
                                   "send initialize first")
        hs = self.sessions.local(sid)
        if hs is None:
            try:
                hs = await self.sessions.fetch(sid, self._clients.of(request, sid))
            except StoreUnavailable as exc:
                return _store_down(mid, exc)
        if hs is None or hs.session.toolset != request.match_info.get("toolset") or not is_owner(
                request, hs.session.client_id):
            return _error_response(404, mid, INVALID_REQUEST, "unknown or ended session")
        hs.last_used = asyncio.get_running_loop().time()
        return hs

    # -- session lifetime --------------------------------------------------------------------
    async def reap(self) -> None:
        """End sessions idle for longer than session_idle_timeout, forever (run as a task)."""
        await self.sessions.reap()

    async def shutdown(self, timeout: float, force: asyncio.Event) -> None:
        """Let running calls finish (up to `timeout`, or until `force`), then end every session."""
        self.closing = True
        for hs in list(self.listeners):
            hs.session.end_listen()
        running = [*self.sessions.copies.values(), *self.alone]
        await asyncio.gather(*(hs.session.drain(timeout, force) for hs in running))
        for hs in list(self.sessions.copies.values()):
            self.sessions.end(hs, "the server is shutting down")
        await self.sessions.close()


def _event(message: dict[str, Any]) -> bytes:
    data = jsonrpc.encode(message)
    return b"event: message\ndata: " + data + b"\n\n" if data is not None else b""


def _json_response(message: dict[str, Any], headers: dict[str, str] | None, status: int = 200) -> web.Response:
    return web.Response(body=jsonrpc.encode(message) or b"", content_type=_JSON, headers=headers, status=status)


def _store_down(mid: Any, exc: StoreUnavailable) -> web.Response:
    log.warning("session store unavailable: %s", exc)
    return _error_response(503, mid, INVALID_REQUEST, "the session store is unavailable; try again later",
                           {"Retry-After": "1"})


def _error_response(
    status: int, mid: Any, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = orjson.dumps(jsonrpc.error(mid if type(mid) in (str, int) else None, code, message))
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def _is_utf8(value: str) -> bool:
    """False for a header value aiohttp decoded with surrogate escapes (bytes that are not UTF-8)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
