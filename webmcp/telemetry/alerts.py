"""Webhook alerts (`telemetry.alerts`): a scaling target that turns violated, or recovers, POSTed as JSON.

Contract:
- `Alerts.observe(targets)` is called once a second with every target's current state; a target whose
  state changed since the last call (a first call counts from "not violated") queues one alert.
- Alerts never slow or fail a call: nothing on the call path calls this module. `observe` puts the
  alert on each webhook's bounded queue (when one is full the alert is dropped for it and logged) and
  returns; each webhook has one background task that delivers its alerts in order, so a slow webhook
  delays no other. An attempt that fails (refused, no answer within the webhook's `timeout`, a status
  other than 2xx) is retried after 0.5s, 1s, 2s, ... (at most MAX_BACKOFF) until its `attempts` are
  spent, then dropped and logged.
- One alert per server: a single process sends its own; a supervisor sends them for all its workers,
  which send none (server/supervisor.py).
- The webhooks are read from `webhooks()` at each change, so a reload that changes them applies to the
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
        self._queues: dict[str, asyncio.Queue[tuple[AlertSpec, dict[str, Any]]]] = {}  # by webhook URL
        self._tasks: list[asyncio.Task[None]] = []
        self._http: Any = None  # one aiohttp.ClientSession, made at the first alert

    def observe(self, targets: Sequence[Target]) -> None:
        for target in targets:
            if target.violated == self._states.get(target.name, False):
                continue
            self._states[target.name] = target.violated
            hooks = self._webhooks()
            if hooks:
                alert = body(self._server(), target, self._window())
                log.info("alert to %d webhook(s): %s", len(hooks), alert["text"])
                for hook in hooks:
                    self._enqueue(hook, alert)

    def _enqueue(self, hook: AlertSpec, alert: dict[str, Any]) -> None:
        queue = self._queues.get(hook.url)
        if queue is None:  # one sender per webhook: a slow one delays no other
            queue = self._queues[hook.url] = asyncio.Queue(QUEUE)
            self._tasks.append(asyncio.get_running_loop().create_task(self._deliver(queue)))
        try:
            queue.put_nowait((hook, alert))
        except asyncio.QueueFull:
            stats.ALERTS["dropped"] += 1
            log.error("alert to %s dropped, %d waiting already (the webhook is slow or down): %s", _where(hook.url),
                      QUEUE, alert["text"])

    async def _deliver(self, queue: asyncio.Queue[tuple[AlertSpec, dict[str, Any]]]) -> None:
        while True:
            hook, alert = await queue.get()
            if self._http is None:
                import aiohttp  # at the first alert: a server that never sends one never loads it

                self._http = aiohttp.ClientSession()
            await self._post(self._http, hook, alert)

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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()


def _where(url: str) -> str:
    """A webhook's scheme and host only: its path often holds a secret token (Slack's does)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
