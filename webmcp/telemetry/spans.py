"""Span records: one JSON line per tool call, written in batches by a background task.

Contract:
- The call path only appends a tuple to an in-memory list (`add`); it never waits or does I/O. The
  list is bounded by `max_buffer`: past it a span is dropped and counted
  (`webmcp_spans_dropped_total`).
- A background task writes the buffer when it holds `batch_size` spans or `flush_interval` after
  the oldest one: it formats the batch on the loop (a few µs a span) and appends it to the file
  in a worker thread (the event loop never blocks on the disk). Closing the writer (its Graph's
  last reference, at shutdown or when a reload drops it) writes what is left.
- Record fields: start (Unix time), tool, operation (master tools; else null), args_hash (first 16
  hex of the SHA-256 of the canonical JSON of the arguments), outcome, reason (why a call was
  refused), queue_us and run_us (whole microseconds), client, generation, cache (null until caching
  fills it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from typing import Any

import orjson

from webmcp.config.spec import SpansSpec
from webmcp.telemetry import stats

log = logging.getLogger(__name__)

# (perf_counter at start, tool, operation, arguments hash, outcome, reason, queue s, run s, client, generation,
# cache)
Span = tuple[float, str, str | None, str, str, str | None, float, float, str, int, str | None]


class SpanWriter:
    def __init__(self, spec: SpansSpec) -> None:
        self.spec = spec
        self.buffer: list[Span] = []
        self.written = 0
        self._limit = spec.max_buffer
        self._batch = spec.batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._epoch = time.time() - time.perf_counter()  # perf_counter -> Unix time

    def add(self, span: Span) -> None:
        buffer = self.buffer
        if len(buffer) >= self._limit:
            stats.SPANS_DROPPED[0] += 1
            return
        buffer.append(span)
        if len(buffer) == self._batch:
            self._wake.set()

    def start(self) -> SpanWriter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.spec.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        try:
            data = self._format(batch)  # here: a worker thread would only fight the loop for the GIL
            await asyncio.get_running_loop().run_in_executor(None, self._append, data)
            self.written += len(batch)
        except Exception as exc:
            stats.SPANS_DROPPED[0] += len(batch)
            log.error("cannot write spans to %s: %s", self.spec.path, exc)

    def _format(self, batch: list[Span]) -> bytes:
        epoch = self._epoch
        lines = []
        for start, tool, op, hashed, outcome, reason, queued, ran, client, generation, cache in batch:
            lines.append(orjson.dumps({
                "start": epoch + start, "tool": tool, "operation": op, "args_hash": hashed,
                "outcome": outcome, "reason": reason, "queue_us": int(queued * 1e6), "run_us": int(ran * 1e6),
                "client": client, "generation": generation, "cache": cache,
            }, option=orjson.OPT_APPEND_NEWLINE))
        return b"".join(lines)

    def _append(self, data: bytes) -> None:
        os.makedirs(os.path.dirname(self.spec.path) or ".", exist_ok=True)  # at the first write, not at validate
        with open(self.spec.path, "ab") as f:
            f.write(data)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def args_hash(arguments: Any) -> str:
    try:
        data = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        data = repr(arguments).encode()
    return hashlib.sha256(data).hexdigest()[:16]
