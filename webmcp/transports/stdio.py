"""MCP over stdio: newline-delimited JSON-RPC on stdin/stdout.

Contract:
- The protocol owns the process's real stdout. `claim_stdout()` (called before any tool code is
  imported) moves it to a private descriptor and points fd 1 and `sys.stdout` at stderr, so a stray
  `print` or a C library writing to fd 1 lands in the log, never in the protocol stream.
- Replies produced in one event-loop turn are written with one write (cheap pipelining).
- A line longer than `max_message_size` gets one -32600 error and is skipped; serving goes on.
- On end of input, running calls may finish (up to `graceful_timeout`) and their replies are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from webmcp.graph.holder import GraphHolder
from webmcp.protocol import jsonrpc
from webmcp.protocol.jsonrpc import INVALID_REQUEST, PARSE_ERROR
from webmcp.protocol.session import Session

log = logging.getLogger(__name__)

_NL = orjson.OPT_APPEND_NEWLINE
_CHUNK = 1 << 16


def claim_stdout() -> BinaryIO:
    """Take fd 1 for the protocol; everything else that writes to stdout goes to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "wb", buffering=0)


class _Output:
    """Buffers outgoing messages and writes them once per event-loop turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop, write: Callable[[bytes], None]) -> None:
        self._loop = loop
        self._write = write
        self._buffer: list[bytes] = []
        self._scheduled = False

    def emit(self, message: dict[str, Any]) -> None:
        try:
            data = orjson.dumps(message, option=_NL)
        except TypeError as exc:  # a tool returned something JSON cannot carry
            mid = message.get("id")
            log.error("cannot encode reply to %r: %s", mid, exc)
            data = orjson.dumps(jsonrpc.error(mid, jsonrpc.INTERNAL_ERROR, f"result is not JSON: {exc}"), option=_NL)
        self._buffer.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._buffer:
            data = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            self._buffer.clear()
            self._write(data)


async def serve(holder: GraphHolder, stdin: BinaryIO, stdout: BinaryIO, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader: Any = asyncio.StreamReader(limit=_CHUNK * 4)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except ValueError:  # stdin is a regular file (`webmcp serve < requests.jsonl`)
        reader = _FileReader(stdin)
    writer: Any
    try:
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, stdout)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    except ValueError:  # stdout is a regular file
        writer = _FileWriter(stdout)
    out = _Output(loop, writer.write)
    session = Session(holder, out.emit)
    limit = holder.current.spec.server.max_message_size

    read_task = loop.create_task(_read_loop(reader, writer, session, out, limit))
    stop_task = loop.create_task(stop.wait())
    await asyncio.wait({read_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    stop_task.cancel()
    read_task.cancel()
    await asyncio.gather(read_task, return_exceptions=True)
    await session.drain(holder.current.spec.server.graceful_timeout)
    out.flush()
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        await writer.drain()
    writer.close()


async def _read_loop(
    reader: Any, writer: Any, session: Session, out: _Output, limit: int
) -> None:
    pending = b""
    skipping = False  # inside an oversized line: drop bytes up to the next newline
    receive = session.receive
    loads = orjson.loads
    while True:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if skipping:
                skipping = False
                continue
            if len(line) > limit:
                out.emit(_too_large(len(line), limit))
                continue
            if not line or line.isspace():
                continue
            try:
                msg = loads(line)
            except orjson.JSONDecodeError as exc:
                out.emit(jsonrpc.error(None, PARSE_ERROR, f"Parse error: {exc}"))
                continue
            receive(msg)
        if len(pending) > limit:
            if not skipping:
                out.emit(_too_large(len(pending), limit))
            skipping = True
            pending = b""
        try:
            await writer.drain()  # back-pressure: stop reading while the client is not reading replies
        except (ConnectionError, BrokenPipeError):
            break
    if pending.strip() and not skipping:
        try:
            receive(loads(pending))
        except orjson.JSONDecodeError as exc:
            out.emit(jsonrpc.error(None, PARSE_ERROR, f"Parse error: {exc}"))


class _FileReader:
    def __init__(self, file: BinaryIO) -> None:
        self._fd = file.fileno()

    async def read(self, n: int) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, os.read, self._fd, n)


class _FileWriter:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes) -> None:
        self._file.write(data)

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self._file.flush()


def _too_large(size: int, limit: int) -> dict[str, Any]:
    return jsonrpc.error(None, INVALID_REQUEST, f"message too large: over {limit} bytes (got at least {size})")
