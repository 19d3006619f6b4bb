"""The control channel between the supervisor and one worker process: JSON lines over a socketpair.

A message with `op` and `id` is a request; the other end answers `{"re": id, ...}`. A message with
`op` and no `id` is a notice, answered by nothing. Both ends use this class.

Contract:
- One reader task per channel, on the event loop. Each request is handled in a task of its own, so a
  reload being prepared never holds up a health ping.
- When the other end goes away (its process died, or closed the channel), every `ask` still waiting
  fails with ConnectionError, later ones fail at once, and `closed` is set.
- Messages are small records (a status snapshot, a reload report); a line may be up to 16 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
_LIMIT = 16 * 1024 * 1024


class Channel:
    def __init__(self, sock: socket.socket, handle: Handler, name: str) -> None:
        self.sock = sock
        self._handle = handle
        self.name = name  # for log lines: "worker 2 (pid 123)" or "supervisor"
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()

    async def start(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(sock=self.sock, limit=_LIMIT)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    def notify(self, op: str, **fields: Any) -> None:
        self._send({"op": op, **fields})

    async def ask(self, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its answer: TimeoutError after `timeout` seconds, ConnectionError
        when the channel closes first."""
        if self.closed.is_set():
            raise ConnectionError(f"{self.name}: the channel is closed")
        mid = next(self._ids)
        future = self._waiting[mid] = asyncio.get_running_loop().create_future()
        try:
            self._send({"op": op, "id": mid, **fields})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(mid, None)

    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self.closed.is_set():
            return
        try:
            self._writer.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
        except (ConnectionError, RuntimeError):  # the other end is gone; the reader sees EOF
            self._close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.error("%s: a message that is not JSON on the control channel: %.200r", self.name, line)
                    continue
                if "re" in message:
                    future = self._waiting.get(message["re"])
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                task = asyncio.get_running_loop().create_task(self._answer(message))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
        except (ConnectionError, ValueError):  # reset, or a line over the limit
            pass
        finally:
            self._close()

    async def _answer(self, message: dict[str, Any]) -> None:
        try:
            answer = await self._handle(message)
        except Exception as exc:
            log.exception("%s: handling %r failed", self.name, message.get("op"))
            answer = {"ok": False, "message": f"{type(exc).__name__}: {exc}"}
        if "id" in message:
            self._send({"re": message["id"], **(answer or {})})

    def _close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.name}: the channel closed"))
        if self._writer is not None:
            self._writer.close()

    async def close(self) -> None:
        self._close()
        for task in (self._reader_task, *self._handling):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
