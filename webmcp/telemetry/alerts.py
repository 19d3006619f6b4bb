"""Webhook alerts (`telemetry.alerts`): a scaling target that turns violated, or recovers, POSTed as JSON.

Contract:
- `Alerts.observe(targets)` is called once a second with every target's current state; a target whose
  state changed since the last call (a first call counts from "not violated") queues one alert.
- Alerts never slow or fail a call: nothing on the call path calls this module. `observe` puts on a
  bounded queue (when it is full the alert is dropped and logged) and returns; one background task
  delivers the alerts in order, each to every webhook at once. An attempt that fails (refused, no answer
  within the webhook's `timeout`, a status other than 2xx) is retried after 0.5s, 1s, 2s, ... (at most
  MAX_BACKOFF) until its `attempts` are spent, then dropped and logged.
- One alert per server: a single process sends its own; a supervisor sends them for all its workers,
  which send none (server/supervisor.py).
- The webhooks are read from `webhooks()` at each delivery, so a reload that changes them applies to the
  next alert.
- Counts (sent, failed attempts, dropped) are in telemetry/stats.ALERTS, for /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from webmcp.config.spec import AlertSpec
from webmcp.telemetry import stats
from webmcp.telemetry.targets import Target

log = logging.getLogger(__name__)

QUEUE = 100  # alerts waiting for delivery at most
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


def body(server: str, target: Target, window: float) -> dict[str, Any]:
    """The JSON posted: `text` for Slack-compatible receivers, the figures for everyone else."""
    state = "violated" if target.violated else "recovered"
    over = "" if target.name == "max_memory" else f" over the last {window:g}s"
    headline = "VIOLATED" if target.violated else "recovered"
    text = (f"webmcp {server}: target {target.name} {headline}: {show(target.name, target.value)}{over} "
            f"(target {show(target.name, target.goal)})")
    return {"text": text, "server": server, "target": target.name, "state": state, "value": target.value,
            "threshold": target.goal, "window": window}


def show(name: str, value: float) -> str:
    if name == "p95_latency":
        return f"{value * 1000:.0f}ms"
    if name == "error_rate":
        return f"{value * 100:.2f}%"
    return f"{value / 1e6:.0f}MB"


class Alerts:
    def __init__(self, webhooks: Callable[[], Sequence[AlertSpec]], server: Callable[[], str],
                 window: Callable[[], float]) -> None:
        self._webhooks = webhooks
        self._server = server
        self._window = window
        self._states: dict[str, bool] = {}
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Alerts:
        self._task = asyncio.get_running_loop().create_task(self._deliver())
        return self

    def observe(self, targets: Sequence[Target]) -> None:
        for target in targets:
            if target.violated == self._states.get(target.name, False):
                continue
            self._states[target.name] = target.violated
            if not self._webhooks():
                continue
            alert = body(self._server(), target, self._window())
            try:
                self._queue.put_nowait(alert)
            except asyncio.QueueFull:
                stats.ALERTS["dropped"] += 1
                log.error("alert dropped, %d waiting already (the webhooks are slow or down): %s", QUEUE,
                          alert["text"])

    async def _deliver(self) -> None:
        alert = await self._queue.get()
        import aiohttp  # at the first alert: a server that never sends one never loads it

        async with aiohttp.ClientSession() as http:
            while True:
                await asyncio.gather(*(self._post(http, hook, alert) for hook in self._webhooks()))
                alert = await self._queue.get()

    async def _post(self, http: Any, hook: AlertSpec, alert: dict[str, Any]) -> None:
        import aiohttp

        delay = FIRST_BACKOFF
        for attempt in range(1, hook.attempts + 1):
            try:
                async with http.post(hook.url, json=alert, timeout=aiohttp.ClientTimeout(total=hook.timeout)) as got:
                    if 200 <= got.status < 300:
                        stats.ALERTS["sent"] += 1
                        return
                    why = f"status {got.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                why = str(exc) or type(exc).__name__
            stats.ALERTS["failed"] += 1
            if attempt == hook.attempts:
                break
            log.warning("alert to %s failed (%s); attempt %d of %d in %.1fs", _where(hook.url), why, attempt + 1,
                        hook.attempts, delay)
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)
        stats.ALERTS["dropped"] += 1
        log.error("alert to %s dropped after %d attempts (last: %s): %s", _where(hook.url), hook.attempts, why,
                  alert["text"])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _where(url: str) -> str:
    """A webhook's scheme and host only: its path often holds a secret token (Slack's does)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
