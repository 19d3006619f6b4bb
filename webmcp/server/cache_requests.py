"""`webmcp cache clear` for memory caches, which live inside the serving processes: the command writes
a request file next to each local server's run file and sends it SIGUSR1; the server applies the
request and writes the answer beside it. This works for stdio servers too."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.server.cache_clear import ClearRequest, apply

if TYPE_CHECKING:
    from webmcp.graph.holder import GraphHolder

log = logging.getLogger(__name__)

REQUEST_GLOB = "{pid}.cache-clear.*.json"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


async def serve_requests(folder: Path, holder: GraphHolder) -> None:
    """SIGUSR1: answer every clear request addressed to this process (memory caches; Redis-backed ones
    were invalidated by the command itself)."""

    async def clear(request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, **await apply(holder.current, ClearRequest.from_json(request), lambda c: c.remote is None)}

    await serve_requests_with(folder, clear)


async def serve_requests_with(folder: Path, clear: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """Answer every clear request addressed to this process with `clear(request)` (a supervisor passes
    them on to its workers)."""
    for path in sorted(folder.glob(REQUEST_GLOB.format(pid=os.getpid()))):
        if path.name.endswith(".done.json"):
            continue
        try:
            answer = await clear(orjson.loads(path.read_bytes()))
        except (OSError, orjson.JSONDecodeError, ValueError, KeyError) as exc:
            answer = {"ok": False, "error": exc.args[0] if isinstance(exc, KeyError) else str(exc)}
        with contextlib.suppress(OSError):
            path.unlink()
            _write_private(path.with_name(path.name.removesuffix(".json") + ".done.json"), orjson.dumps(answer))
        log.info("cache clear request: %s", answer)


def ask_server(folder: Path, pid: int, request: ClearRequest, timeout: float) -> dict[str, Any] | None:
    """Write a request for server `pid`, signal it, wait for its answer (None: no answer in time)."""
    import signal
    import time

    name = REQUEST_GLOB.format(pid=pid).replace("*", uuid.uuid4().hex)
    path = folder / name
    _write_private(path, orjson.dumps(request.as_json()))
    done = path.with_name(path.name.removesuffix(".json") + ".done.json")
    try:
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                answer: dict[str, Any] = orjson.loads(done.read_bytes())
                return answer
            time.sleep(0.02)
        return None
    finally:
        for leftover in (path, done):
            with contextlib.suppress(OSError):
                leftover.unlink()
