"""One long-lived client connection to an upstream MCP server (stdio process or Streamable HTTP), with
the official `mcp` client.

Contract: a supervisor task owns the connection (the SDK's transports must be entered and left in one
task): it connects, initializes, lists the tools, then waits until the connection is lost (a call saw
it close, or a ping failed) or the upstream is closed; then it tears the connection down (a stdio
process is terminated and reaped by the SDK) and connects again after a back-off that doubles up to
`max_backoff`. So at most one session and one process exist per endpoint, and none outlives `close()`.
Calls never wait for a reconnection: while disconnected they fail at once as an AttemptFailed marked
safe (nothing was sent), so the upstream may try another endpoint.
A stdio process's stderr reaches ours in whole lines, all of it before the connection is reported lost.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import sys
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from webmcp.call.results import error_result
from webmcp.upstreams.upstream import AttemptFailed

log = logging.getLogger(__name__)

_RESULT_KEYS = ("content", "structuredContent", "isError", "_meta")


# The messages the official client's Streamable HTTP transport gives errors it makes up from an HTTP status.
_SESSION_GONE = "Session terminated"
_HTTP_ERROR = "Server returned an error response"

class McpConnection:
    __slots__ = (
        "_lost",
        "_ready",
        "_stopped",
        "_task",
        "address",
        "args",
        "cwd",
        "env",
        "kind",
        "label",
        "max_backoff",
        "ping_interval",
        "session",
        "tools",
    )

    def __init__(self, label: str, kind: str, address: str, args: tuple[str, ...], env: dict[str, str] | None,
                 cwd: str | None, ping_interval: float, max_backoff: float) -> None:
        self.label = label  # "upstream 'x' endpoint 'y'"
        self.kind = kind  # "command" | "url"
        self.address = address  # the program or the URL
        self.args = args
        self.env = env
        self.cwd = cwd
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.session: Any = None
        self.tools: list[Any] = []
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    def _transport(self) -> Any:
        return self._http_transport() if self.kind == "url" else self._stdio_transport()

    @contextlib.asynccontextmanager
    async def _http_transport(self) -> AsyncIterator[Any]:
        """The SDK's Streamable HTTP client. Credentials in the URL travel as an Authorization header and
        leave the URL, which the HTTP client logs on every request (`HTTP Request: POST http://...`)."""
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client  # the SDK's own timeouts

        url, authorization = split_credentials(self.address)
        headers = {"Authorization": authorization} if authorization else None
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(url, http_client=client) as streams,
        ):
            yield streams

    @contextlib.asynccontextmanager
    async def _stdio_transport(self) -> AsyncIterator[Any]:
        """The SDK's stdio client, the process's stderr relayed to ours through a pipe: a process that exits
        mid-line would otherwise leave our next log line running on from its last words."""
        from mcp import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=self.address, args=list(self.args), env=self.env, cwd=self.cwd)
        read_end, write_end = os.pipe()
        relay = asyncio.get_running_loop().create_task(_relay_stderr(read_end))
        try:
            with os.fdopen(write_end, "w") as errlog:
                async with stdio_client(params, errlog=errlog) as streams:
                    errlog.close()  # the process holds its own copy: the pipe ends when the process does
                    yield streams
        finally:
            # The process is gone: its last words come out before whatever is logged about its end.
            await asyncio.wait({relay}, timeout=1)
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay

    async def _supervise(self) -> None:
        from mcp import ClientSession

        backoff = 0.1
        while not self._stopped:
            try:
                async with self._transport() as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    self.tools = await _list_tools(session)
                    self.session = session
                    self._ready.set()
                    log.info("%s: connected (%d tools)", self.label, len(self.tools))
                    backoff = 0.1
                    await self._watch(session)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # an ExceptionGroup from the SDK's task groups, OSError, ...
                if not self._stopped:
                    log.warning("%s: connection failed: %s", self.label, _describe(exc))
            finally:
                self.session = None
                self._ready.clear()
                self._lost.clear()
            if self._stopped:
                return
            log.info("%s: reconnecting in %.1fs", self.label, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _watch(self, session: Any) -> None:
        """Until the connection is lost: a call saw it close, or a ping failed."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self.ping_interval)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(session.send_ping(), self.ping_interval)
            except Exception as exc:
                log.warning("%s: ping failed (%s); reconnecting", self.label, _describe(exc))
                return

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, INTERNAL_ERROR, INVALID_REQUEST

        session = self.session
        if session is None:
            raise AttemptFailed(f"{self.label} is not connected (reconnecting)", safe=True)
        try:
            result = await session.call_tool(name, arguments)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED or (exc.code == INVALID_REQUEST and exc.message == _SESSION_GONE):
                self._lose(session)  # the connection or (HTTP 404) the upstream's session is gone: reconnect
                raise AttemptFailed(f"{self.label}: connection closed during the call", safe=False) from None
            if exc.code == INTERNAL_ERROR and exc.message == _HTTP_ERROR:
                # The SDK's stand-in for an HTTP error status without a JSON-RPC body (a 502 from a proxy,
                # a crashed handler): the endpoint failed, which its breaker and ejection must count.
                raise AttemptFailed(f"{self.label}: the upstream answered with an HTTP error status",
                                    safe=False) from None
            return error_result(f"{self.label} refused the call: {exc.message}")
        except Exception as exc:
            if not _broke_transport(exc):
                # The SDK refused the answer (structured content against the output schema, a result
                # type it does not take...): this call fails, the connection is fine.
                log.warning("%s: the answer to %r is not usable: %s", self.label, name, _describe(exc))
                return error_result(f"{self.label}: the upstream's answer to {name!r} is not usable: "
                                    f"{_describe(exc)}")
            self._lose(session)
            raise AttemptFailed(f"{self.label}: {_describe(exc)}", safe=False) from None
        dumped = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        return {k: dumped[k] for k in _RESULT_KEYS if k in dumped}

    def _lose(self, session: Any) -> None:
        """The connection of `session` broke: reconnect, unless that session was replaced already."""
        if self.session is session:
            self._lost.set()

    async def close(self) -> None:
        self._stopped = True
        self._lost.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task


async def _relay_stderr(read_end: int) -> None:
    """Copy a pipe to our stderr in whole lines; a last line without its newline is given one."""
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", buffering=0))
    pending = b""
    try:
        while chunk := await reader.read(65536):
            lines, newline, pending = (pending + chunk).rpartition(b"\n")
            _write_stderr(lines + newline)
            if len(pending) > 65536:  # a line that never ends: out in pieces
                _write_stderr(pending + b"\n")
                pending = b""
    finally:
        transport.close()
        _write_stderr(pending + b"\n" if pending else b"")


def _write_stderr(data: bytes) -> None:
    if data:
        sys.stderr.write(data.decode(errors="replace"))  # through sys.stderr, in turn with our log lines
        sys.stderr.flush()


async def _list_tools(session: Any) -> list[Any]:
    from mcp.types import PaginatedRequestParams

    tools: list[Any] = []
    cursor = None
    while True:
        page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def split_credentials(url: str) -> tuple[str, str | None]:
    """`url` without its `user:password@`, and the Basic Authorization value they make (None without)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    user, password = urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), f"Basic {token}"


def _broke_transport(exc: BaseException) -> bool:
    """Is this the connection failing (closed or broken streams, sockets, HTTP client errors)?"""
    import anyio

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)):
        return True
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
