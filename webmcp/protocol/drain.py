"""Draining calls at shutdown: running calls get a grace period, then what is left is cancelled."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def drain(tasks: list[asyncio.Task[None]], timeout: float, force: asyncio.Event) -> None:
    """Let `tasks` finish for up to `timeout` seconds (or until `force` is set), then cancel what is left
    and give it 5 seconds to unwind."""
    if not tasks:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    forced = asyncio.ensure_future(force.wait())
    remaining: set[asyncio.Future[Any]] = set(tasks)
    while remaining and not forced.done() and (left := deadline - loop.time()) > 0:
        done, _ = await asyncio.wait([*remaining, forced], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        remaining -= done
    forced.cancel()
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        log.warning("cancelled %d call(s) still running at shutdown", len(pending))
        await asyncio.wait(pending, timeout=5)
