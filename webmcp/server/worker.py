"""A worker process of `webmcp serve --workers N`: what it does on its side of the control channel.

The supervisor (server/supervisor.py) started it with the listening socket and its end of a socketpair
(`serve --worker INDEX:LISTEN_FD:CHANNEL_FD`, a hidden option). The worker serves HTTP on the inherited
socket exactly as a single server does, with its own Graph, caches, breakers and token buckets.

Contract:
- The supervisor owns reloads: they are two-phase (`prepare` builds the next Graph without swapping;
  `commit` swaps it, `abort` discards it), so a file that fails in one worker leaves every worker on
  the old generation. A reload asked of a worker (SIGHUP sent to it, POST /admin/reload landing on
  it) is passed up to the supervisor, which reloads them all.
- One reload at a time: the supervisor sends the next `prepare` only after the `commit` or `abort`.
- When the channel closes (the supervisor is gone), the worker stops as on SIGTERM.
- Every worker loads the config text the supervisor read (at start, and for each reload), not the file
  itself: a worker started to replace another runs what the others run, even if the file changed since.
- No run file: `webmcp reload` and `webmcp status` find the supervisor's, which lists the workers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.errors import WebmcpError
from webmcp.server.cache_clear import ClearRequest, apply
from webmcp.server.diff import summarize
from webmcp.server.reload import Prepared, ReloadReport
from webmcp.server.session_link import SupervisorStore
from webmcp.server.worker_channel import Channel
from webmcp.status.components import components
from webmcp.status.snapshot import snapshot
from webmcp.telemetry import stats

if TYPE_CHECKING:
    from webmcp.graph.holder import GraphHolder
    from webmcp.server.reload import Reloader

log = logging.getLogger(__name__)

# How long a worker waits for the supervisor's answer to a reload it passed up: the supervisor waits
# for every worker's build (server/workers.PREPARE_TIMEOUT) and commit.
RELOAD_ALL_TIMEOUT = 300.0


class WorkerError(WebmcpError):
    exit_code = 2


class WorkerLink:
    """The worker's end: the inherited socket, the channel, and the handlers of the supervisor's requests."""

    def __init__(self, index: int, listen_fd: int, channel_fd: int) -> None:
        self.index = index
        self.listen_fd = listen_fd
        self.channel = Channel(socket.socket(fileno=channel_fd), self._handle, "supervisor")
        self.generation = 1  # of the first Graph; the supervisor's current one (a replaced worker catches up)
        self.state_key = b""  # signs 2026-07-28 requestState: one key for every worker
        self.text = ""  # the config file's text to load: the supervisor's, for every worker alike
        self._holder: GraphHolder | None = None
        self._reloader: Reloader | None = None
        self._pending: Prepared | None = None
        self._watch: asyncio.Task[None] | None = None
        self._asking: set[asyncio.Task[None]] = set()
        self.sessions: SupervisorStore | None = None  # server.http.sessions backend memory: the supervisor's
        self.retire: Callable[[], None] | None = None  # scaled down: stop taking connections, drain, stop

    @classmethod
    def from_option(cls, value: str) -> WorkerLink:
        """From `--worker INDEX:LISTEN_FD:CHANNEL_FD`."""
        try:
            index, listen_fd, channel_fd = (int(part) for part in value.split(":"))
        except ValueError:
            raise WorkerError(f"--worker takes INDEX:LISTEN_FD:CHANNEL_FD (got {value!r}); it is set by "
                              "`webmcp serve --workers N`, not by hand") from None
        return cls(index, listen_fd, channel_fd)

    def listen_socket(self) -> socket.socket:
        return socket.socket(fileno=self.listen_fd)

    def hello(self) -> None:
        """Before anything else (blocking, no event loop yet): learn from the supervisor the generation the
        others run, the requestState key, and the config text of that generation, which this worker loads
        instead of reading the file (it may have changed on disk since, or be broken)."""
        sock = self.channel.sock
        sock.sendall(orjson.dumps({"op": "hello", "id": 0, "pid": os.getpid()}, option=orjson.OPT_APPEND_NEWLINE))
        data = b""
        while not data.endswith(b"\n"):  # the supervisor sends nothing else before this worker says it is ready
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise WorkerError(f"worker {self.index}: the supervisor closed the control channel")
            data += chunk
        answer = orjson.loads(data)
        self.generation = int(answer["generation"])
        self.state_key = bytes.fromhex(answer["state_key"])
        self.text = str(answer["text"])

    async def connect(self) -> None:
        """Start the channel (on the event loop)."""
        await self.channel.start()

    def attach(self, holder: GraphHolder, reloader: Reloader, stop: asyncio.Event) -> None:
        """Serve the supervisor's requests on this holder; stop when the channel closes."""
        self._holder, self._reloader = holder, reloader

        async def stop_when_closed() -> None:
            await self.channel.closed.wait()
            if not stop.is_set():
                log.warning("worker %d: the supervisor is gone; stopping", self.index)
                stop.set()

        self._watch = asyncio.get_running_loop().create_task(stop_when_closed())

    def ready(self) -> None:
        holder = self._holder
        assert holder is not None
        self.channel.notify("ready", generation=holder.current.generation, summary=summarize(holder.current),
                            live=snapshot(holder))

    def reload_all(self) -> None:
        """SIGHUP sent to this worker: ask the supervisor to reload every worker."""
        task = asyncio.get_running_loop().create_task(self._reload_all())
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _reload_all(self) -> None:
        try:
            await self.channel.ask("reload_all", RELOAD_ALL_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            log.error("worker %d: cannot ask the supervisor for a reload: %s", self.index, exc or type(exc).__name__)

    async def metrics(self) -> tuple[bytes, str]:
        """/metrics of the whole server, merged by the supervisor from every worker's."""
        answer = await self.channel.ask("metrics_all", 30.0)
        return str(answer["body"]).encode(), str(answer["content_type"])

    async def close(self) -> None:
        """Leave the supervisor this worker's last counts (kept in the merged /metrics), then close."""
        from webmcp.status.metrics import families

        self.channel.notify("last_metrics", families=families())
        await self.channel.close()

    async def _handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if message.get("op") == "session_message":
            if self.sessions is not None:
                self.sessions.deliver(message["message"])
            return None
        holder, reloader = self._holder, self._reloader
        if holder is None or reloader is None:
            return {"ok": False, "message": "not serving yet"}
        op = message.get("op")
        if op == "ping":
            window = components(holder.current).window
            return {"ok": True, "generation": holder.current.generation, "live": snapshot(holder),
                    "recent": window.recent() if window is not None else None}
        if op == "metrics":
            from webmcp.status.metrics import families  # prometheus_client loads at the first scrape

            return {"ok": True, "families": families()}
        if op == "retire":
            if self.retire is not None:
                self.retire()
            return None
        if op == "prepare":
            self.text = message["text"]
            prepared = await reloader.prepare(int(message["generation"]))
            if isinstance(prepared, ReloadReport):
                stats.reloaded(False)
                return {"ok": False, "message": prepared.message}
            self._pending = prepared
            return {"ok": True}
        if op == "commit" and self._pending is not None:
            report = reloader.commit(self._pending)
            self._pending = None
            stats.reloaded(True)
            return {"ok": True, "report": report.as_dict(), "summary": summarize(holder.current)}
        if op == "abort" and self._pending is not None:
            pending, self._pending = self._pending, None
            await reloader.discard(pending)
            stats.reloaded(False)
            return {"ok": True}
        if op == "cache_clear":
            request = ClearRequest.from_json(message["request"])
            return {"ok": True, **await apply(holder.current, request, lambda c: c.remote is None)}
        return {"ok": False, "message": f"unknown request {op!r}"}


class WorkerAdmin:
    """transports.http_admin.Admin for a worker: the endpoints act on every worker, through the supervisor."""

    def __init__(self, link: WorkerLink, holder: GraphHolder) -> None:
        self._link = link
        self._holder = holder

    async def reload(self) -> tuple[bool, dict[str, Any]]:
        try:
            answer = await self._link.channel.ask("reload_all", RELOAD_ALL_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            return False, {"ok": False, "message": f"no answer from the supervisor: {exc or type(exc).__name__}"}
        report: dict[str, Any] = answer["report"]
        return bool(report["ok"]), report

    async def clear_caches(self, request: Any) -> dict[str, Any]:
        """Redis-backed caches once, here (Redis tells every worker); memory caches in every worker."""
        parsed = ClearRequest.from_json(request)
        answer = await apply(self._holder.current, parsed)
        try:
            others = await self._link.channel.ask("cache_clear_all", 30.0, request=parsed.as_json(),
                                                   but=os.getpid())
        except (ConnectionError, TimeoutError) as exc:
            raise ValueError(f"cleared in this worker only: no answer from the supervisor ({exc})") from None
        answer["workers"] = [{"pid": os.getpid(), "dropped": answer.get("dropped")}, *others.get("workers", [])]
        answer["dropped"] = answer.get("dropped", 0) + others.get("dropped", 0)
        return answer
