"""MCP over stdio: newline-delimited JSON-RPC on stdin/stdout.

Contract:
- The protocol owns the process's real stdout. `claim_stdout()` (called before any tool code is
  imported) moves it to a private descriptor and points fd 1 and `sys.stdout` at stderr, so a stray
  `print` or a C library writing to fd 1 lands in the log, never in the protocol stream.
- Input is handled in the read callback itself (no reader task to wake): every complete line of a
  chunk goes to the Session, and the replies produced meanwhile are written with one write.
- A reply finished later by a call's task is written at once when it is the only call in flight
  (lowest latency), else with the other replies of that event-loop turn (one write for many).
- When the client stops reading our output, we stop reading its input (back-pressure).
- A line longer than `max_message_size` gets one -32600 error and is skipped; serving goes on.
- On end of input, running calls may finish (up to `graceful_timeout`) and their replies are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from webmcp.call import jsonrpc
from webmcp.call.jsonrpc import INVALID_REQUEST, PARSE_ERROR
from webmcp.graph.holder import GraphHolder
from webmcp.protocol.session import Session

log = logging.getLogger(__name__)

_NL = orjson.OPT_APPEND_NEWLINE


def claim_stdout() -> BinaryIO:
    """Take fd 1 for the protocol; everything else that writes to stdout goes to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "wb", buffering=0)


class _Output:
    """Encodes outgoing messages and decides when to write them (see the module contract)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, write: Callable[[bytes], None]) -> None:
        self._loop = loop
        self._write = write
        self._buffer: list[bytes] = []
        self._scheduled = False
        self.batching = False  # set while a chunk of input is being handled
        self.busy: Callable[[], bool] = lambda: False  # more than one call in flight?

    def emit(self, message: dict[str, Any], related: str | int | None = None) -> None:
        data = jsonrpc.encode(message, _NL)
        if data is None:
            return
        self._buffer.append(data)
        if self.batching or self._scheduled:
            return
        if self.busy():
            self._scheduled = True
            self._loop.call_soon(self.flush)
        else:
            self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._buffer:
            data = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            self._buffer.clear()
            self._write(data)


class _LineReader:
    """Splits input into lines and hands each decoded message to the session."""

    def __init__(self, session: Session, out: _Output, limit: int) -> None:
        self._receive = session.receive
        self._out = out
        self._limit = limit
        self._pending = bytearray()  # an incomplete line; grows without re-copying what came before
        self._skipping = False  # inside an oversized line: drop bytes up to the next newline

    def feed(self, chunk: bytes) -> None:
        out = self._out
        out.batching = True
        try:
            if b"\n" not in chunk:
                self._pending += chunk
            else:
                lines = chunk.split(b"\n")
                if self._pending:
                    lines[0] = bytes(self._pending) + lines[0]
                self._pending = bytearray(lines.pop())
                for line in lines:
                    if self._skipping:
                        self._skipping = False
                        continue
                    self._line(line)
            if len(self._pending) > self._limit:
                if not self._skipping:
                    out.emit(_too_large(len(self._pending), self._limit))
                self._skipping = True
                self._pending.clear()
        finally:
            out.batching = False
            out.flush()

    def finish(self) -> None:
        if not self._skipping:
            self.feed(b"\n")

    def _line(self, line: bytes) -> None:
        if len(line) > self._limit:
            self._out.emit(_too_large(len(line), self._limit))
            return
        if not line or line.isspace():
            return
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._out.emit(jsonrpc.error(None, PARSE_ERROR, f"Parse error: {exc}"))
            return
        self._receive(msg)


class _InputProtocol(asyncio.Protocol):
    def __init__(self, reader: _LineReader, ended: asyncio.Event) -> None:
        self._reader = reader
        self._ended = ended

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)

    def eof_received(self) -> bool:
        self._reader.finish()
        self._ended.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended.set()


class _OutputProtocol(asyncio.Protocol):
    """Pauses input while the client is not reading our output; notices when it goes away."""

    def __init__(self, ended: asyncio.Event) -> None:
        self.input: asyncio.ReadTransport | None = None
        self._ended = ended
        self.closed = asyncio.Event()

    def pause_writing(self) -> None:
        if self.input is not None:
            self.input.pause_reading()

    def resume_writing(self) -> None:
        if self.input is not None:
            self.input.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended.set()
        self.closed.set()


async def serve(
    holder: GraphHolder, stdin: BinaryIO, stdout: BinaryIO, stop: asyncio.Event, force: asyncio.Event,
    toolset: str | None = None,
) -> None:
    """Serve one client on `stdin`/`stdout`; `toolset`: the view of the catalog it gets (serve --toolset)."""
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    output = _OutputProtocol(ended)
    write_transport: Any = None
    if _pollable(stdout):
        write_transport, _ = await loop.connect_write_pipe(lambda: output, stdout)
        write = write_transport.write
    else:  # a regular file (`webmcp serve > replies.jsonl`), /dev/null...
        write = _file_writer(stdout)
    out = _Output(loop, write)
    session = Session(holder, out.emit)
    session.toolset = toolset
    out.busy = lambda: len(session.in_flight) > 1
    reader = _LineReader(session, out, holder.current.spec.server.max_message_size)
    if _pollable(stdin):
        read_transport, _ = await loop.connect_read_pipe(lambda: _InputProtocol(reader, ended), stdin)
        output.input = read_transport
        input_task = None
    else:  # a regular file (`webmcp serve < requests.jsonl`), /dev/null...: read in a thread
        read_transport = None
        input_task = loop.create_task(_read_file(stdin, reader, ended))

    waiters = {loop.create_task(stop.wait()), loop.create_task(ended.wait())}
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    if read_transport is not None:
        read_transport.close()
    if input_task is not None:
        input_task.cancel()
    session.close()
    await session.drain(holder.current.spec.server.graceful_timeout, force)
    out.flush()
    if write_transport is not None and not write_transport.is_closing():
        write_transport.close()  # closes once everything buffered is written
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(output.closed.wait(), 10)


def _pollable(file: BinaryIO) -> bool:
    """Can the event loop poll it? Pipes, sockets and terminals yes; regular files and /dev/null not
    (epoll refuses them, and asyncio only says so in a later callback, leaving the reader silent)."""
    mode = os.fstat(file.fileno()).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(file.fileno())


async def _read_file(file: BinaryIO, reader: _LineReader, ended: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    fd = file.fileno()
    while chunk := await loop.run_in_executor(None, os.read, fd, 1 << 16):
        reader.feed(chunk)
    reader.finish()
    ended.set()


def _file_writer(file: BinaryIO) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        file.write(data)
        file.flush()

    return write


def _too_large(size: int, limit: int) -> dict[str, Any]:
    return jsonrpc.error(None, INVALID_REQUEST, f"message too large: over {limit} bytes (got at least {size})")
