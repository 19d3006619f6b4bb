"""Minimal MCP clients for load: JSON-RPC lines over a child's stdio, and Streamable HTTP (2025 sessions
or the sessionless 2026-07-28 revision). Thin on purpose: the official SDK client spends more CPU per
call than a fast server does (docs/performance.md), and on two cores the driver must not be what is
measured.

Contract:
- `Session.request` returns the reply message (a `result` or an `error`), raises `TimeoutError` when
  no reply came in time and `TransportFailure` when the connection failed; it never raises for a
  JSON-RPC error.
- stdio: one process is one MCP session, so every virtual client shares it (requests are pipelined,
  replies matched by id). A call that times out is cancelled (`notifications/cancelled`).
- HTTP: each `Target.session()` is a session of its own (`initialize`, `Mcp-Session-Id`); on
  2026-07-28 a session is only a set of headers, every request standing alone.
- Requests the server sends us (sampling, roots, elicitation) get a -32601 error; `ping` an empty result.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
from typing import Any, Protocol

import orjson

from webmcp.loadtest.errors import ServerUnavailable

LATEST = "2025-11-25"
SESSIONLESS = "2026-07-28"
PROTOCOLS = (LATEST, "2025-06-18", SESSIONLESS)
CLIENT_INFO = {"name": "webmcp-bench", "version": "1"}


class TransportFailure(Exception):
    """The connection to the server failed for this request (closed pipe, refused, HTTP error)."""


class Session(Protocol):
    server_info: dict[str, Any]

    async def request(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class Target(Protocol):
    pid: int | None
    transport: str
    ended: str | None  # why the server is gone for good (a stdio child that exited), else None

    async def session(self) -> Session: ...

    async def close(self) -> None: ...


def initialize_params(version: str) -> dict[str, Any]:
    return {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO}


def check_initialized(reply: dict[str, Any], where: str) -> dict[str, Any]:
    """The `initialize` result, or ServerUnavailable saying what the server answered instead."""
    if "result" not in reply:
        raise ServerUnavailable(f"{where}: initialize failed: {orjson.dumps(reply.get('error')).decode()}")
    return dict(reply["result"])


class StdioTarget:
    """A server started as a child process, spoken to over its stdin and stdout."""

    transport = "stdio"

    def __init__(self, proc: asyncio.subprocess.Process, command: tuple[str, ...]) -> None:
        self.proc, self.command = proc, command
        self.pid: int | None = proc.pid
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.stderr_tail: collections.deque[bytes] = collections.deque(maxlen=40)
        self.ended: str | None = None
        self.server_info: dict[str, Any] = {}
        self._initialized: asyncio.Future[None] | None = None
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._read_stderr())]

    @classmethod
    async def start(cls, command: tuple[str, ...]) -> StdioTarget:
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024)
        except OSError as exc:
            raise ServerUnavailable(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
        return cls(proc, command)

    async def session(self) -> StdioSession:
        if self._initialized is None:
            self._initialized = asyncio.get_running_loop().create_future()
            try:
                reply = await self.request("initialize", initialize_params(LATEST), 30.0)
            except (TimeoutError, TransportFailure) as exc:
                detail = f"; its stderr ends with:\n{self.stderr()}" if self.stderr() else ""
                self._initialized.set_exception(ServerUnavailable(
                    f"{' '.join(self.command)}: no reply to initialize ({exc or 'timed out after 30s'}){detail}"))
            else:
                try:
                    self.server_info = check_initialized(reply, " ".join(self.command))
                except ServerUnavailable as exc:
                    self._initialized.set_exception(exc)
                else:
                    self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                    self._initialized.set_result(None)
        await asyncio.shield(self._initialized)
        return StdioSession(self)

    async def request(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.ended is not None:
            raise TransportFailure(self.ended)
        rid = next(self.ids)
        future = self.waiting[rid] = asyncio.get_running_loop().create_future()
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            async with asyncio.timeout(timeout):
                reply: dict[str, Any] = await future
                return reply
        except TimeoutError:
            if self.waiting.pop(rid, None) is not None:
                self._send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid}})
            raise

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.is_closing():
            self.proc.stdin.write(orjson.dumps(message) + b"\n")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # not ours to judge here; a server printing junk shows as timeouts
                if not isinstance(message, dict):
                    continue
                if "method" in message:
                    if "id" in message:
                        self._send(_answer(message))
                    continue
                future = self.waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
                if future is not None and not future.done():
                    future.set_result(message)
        except (OSError, ValueError) as exc:
            self.ended = f"reading the server's stdout failed: {exc}"
        else:
            code = await self.proc.wait()
            self.ended = f"the server exited (code {code})"
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(TransportFailure(self.ended))
        self.waiting.clear()

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            while line := await self.proc.stderr.readline():
                self.stderr_tail.append(line[:500])

    def stderr(self) -> str:
        return b"".join(self.stderr_tail).decode(errors="replace").rstrip()

    async def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()  # end of input: an MCP stdio server's cue to finish and exit
        for stop in (None, self.proc.terminate, self.proc.kill):
            if stop is not None:
                with contextlib.suppress(ProcessLookupError):
                    stop()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
                break
            except TimeoutError:
                continue
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class StdioSession:
    """A virtual client's view of the one stdio session: closing it leaves the process to the target."""

    def __init__(self, target: StdioTarget) -> None:
        self.target = target
        self.server_info = target.server_info

    async def request(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        return await self.target.request(method, params, timeout)

    async def close(self) -> None:
        pass


class HttpTarget:
    """A Streamable HTTP endpoint; each session is its own MCP session (or, on 2026-07-28, headers)."""

    transport = "http"
    ended: str | None = None

    def __init__(self, url: str, protocol: str, pid: int | None) -> None:
        import aiohttp

        self.url, self.protocol, self.pid = url, protocol, pid
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
                                          timeout=aiohttp.ClientTimeout(total=None))
        self.ids = itertools.count(1)

    async def session(self) -> HttpSession:
        import aiohttp

        session = HttpSession(self)
        if self.protocol == SESSIONLESS:
            reply = await session.request("server/discover", {}, 30.0, where="server/discover")
            if "result" not in reply:
                raise ServerUnavailable(f"{self.url}: server/discover failed: "
                                        f"{orjson.dumps(reply.get('error')).decode()}; does it serve {SESSIONLESS}?")
            result = dict(reply["result"])
            meta: dict[str, Any] = result["_meta"] if isinstance(result.get("_meta"), dict) else {}
            result.setdefault("serverInfo", meta.get("io.modelcontextprotocol/serverInfo"))  # where 2026 puts it
            session.server_info = result
            return session
        reply = await session.request("initialize", initialize_params(self.protocol), 30.0, where="initialize")
        session.server_info = check_initialized(reply, self.url)
        session.version = str(session.server_info.get("protocolVersion", self.protocol))
        try:
            await session.notify("notifications/initialized")
        except (aiohttp.ClientError, OSError) as exc:
            raise ServerUnavailable(f"cannot reach {self.url} (notifications/initialized): {exc}") from None
        return session

    async def close(self) -> None:
        await self.http.close()


class HttpSession:
    def __init__(self, target: HttpTarget) -> None:
        self.target = target
        self.session_id: str | None = None
        self.version: str | None = None
        self.server_info: dict[str, Any] = {}

    def _headers(self, method: str, params: dict[str, Any]) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.target.protocol == SESSIONLESS:
            headers.update({"MCP-Protocol-Version": SESSIONLESS, "Mcp-Method": method})
            if method == "tools/call":
                headers["Mcp-Name"] = str(params.get("name", ""))
        elif self.version is not None:
            headers["MCP-Protocol-Version"] = self.version
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        return headers

    async def request(self, method: str, params: dict[str, Any], timeout: float,
                      where: str | None = None) -> dict[str, Any]:
        import aiohttp

        rid = next(self.target.ids)
        if self.target.protocol == SESSIONLESS:
            params = {**params, "_meta": {"io.modelcontextprotocol/protocolVersion": SESSIONLESS,
                                          "io.modelcontextprotocol/clientCapabilities": {},
                                          "io.modelcontextprotocol/clientInfo": CLIENT_INFO}}
        body = orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            headers = self._headers(method, params)
            async with asyncio.timeout(timeout), self.target.http.post(self.target.url, data=body,
                                                                       headers=headers) as resp:
                if method == "initialize" and "Mcp-Session-Id" in resp.headers:
                    self.session_id = resp.headers["Mcp-Session-Id"]
                data = await resp.read()
                reply = _reply(data, resp.content_type, rid)
                if reply is None:
                    raise TransportFailure(f"HTTP {resp.status} without a JSON-RPC reply: {data[:200]!r}")
                return reply
        except (aiohttp.ClientError, OSError) as exc:
            if where is not None:
                raise ServerUnavailable(f"cannot reach {self.target.url} ({where}): {exc}") from None
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from None
        except TransportFailure as exc:
            if where is not None:
                raise ServerUnavailable(f"{self.target.url} ({where}): {exc}") from None
            raise

    async def notify(self, method: str) -> None:
        body = orjson.dumps({"jsonrpc": "2.0", "method": method})
        async with self.target.http.post(self.target.url, data=body, headers=self._headers(method, {})) as resp:
            await resp.read()

    async def close(self) -> None:
        import aiohttp

        if self.session_id is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with asyncio.timeout(5), self.target.http.delete(
                        self.target.url, headers={"Mcp-Session-Id": self.session_id}) as resp:
                    await resp.read()


def _reply(data: bytes, content_type: str, rid: int) -> dict[str, Any] | None:
    """The JSON-RPC reply to request `rid` in a JSON or SSE body."""
    if content_type == "text/event-stream":
        for event in data.split(b"\n\n"):
            payload = b"\n".join(line[5:].lstrip() for line in event.splitlines() if line.startswith(b"data:"))
            if payload:
                with contextlib.suppress(orjson.JSONDecodeError):
                    message = orjson.loads(payload)
                    if isinstance(message, dict) and message.get("id") == rid and "method" not in message:
                        return message
        return None
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) and ("result" in message or "error" in message) else None


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    if request["method"] == "ping":
        return {"jsonrpc": "2.0", "id": request["id"], "result": {}}
    return {"jsonrpc": "2.0", "id": request["id"],
            "error": {"code": -32601, "message": f"webmcp bench does not answer {request['method']}"}}
