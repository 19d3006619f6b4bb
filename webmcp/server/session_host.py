"""The supervisor's side of `server.http.sessions: {backend: memory}` with workers: the records of every
2025 session the workers serve, in the supervisor's memory, and the relay of the workers' session
messages (the worker's side is server/session_link.py; what a record is: transports/session_store.py).

Contract:
- A worker is a node named by its pid. Requests (`session_create`, `session_fetch`, `session_save`,
  `session_delete`) are answered on the worker's control channel; notices (`session_touch`,
  `session_send`, `session_broadcast`) are not. `session_save` and `session_delete` are relayed to
  every other worker as `changed` and `ended`.
- A record lives until DELETE, or until `session_idle_timeout` passes with no use in any worker
  (fetch, save, touch). The records survive any worker: a session outlives the worker that opened it.
- At most `max_sessions` records: a new one ends the least recently used (its copies end too).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from webmcp.server.worker_channel import Channel

log = logging.getLogger(__name__)

Message = dict[str, Any]


class SessionHost:
    def __init__(self, idle_timeout: float, max_sessions: int, nodes: Callable[[], dict[str, Channel]]) -> None:
        """`nodes()`: the control channel of each running worker, by its node name (pid)."""
        self._idle = idle_timeout
        self._max = max_sessions
        self._nodes = nodes
        self._records: collections.OrderedDict[str, tuple[Message, float]] = collections.OrderedDict()  # LRU first

    def __len__(self) -> int:
        return len(self._records)

    def handle(self, sender: str, message: Message) -> Message | None:
        op = message.get("op")
        sid = message.get("sid")
        now = time.monotonic()
        if op == "session_fetch":
            found = self._records.get(sid) if isinstance(sid, str) else None
            if found is None or now - found[1] > self._idle:
                self._records.pop(sid, None)  # type: ignore[arg-type]
                return {"ok": True, "record": None}
            self._use(sid, found[0], now)  # type: ignore[arg-type]
            return {"ok": True, "record": found[0]}
        if op in ("session_create", "session_save"):
            if op == "session_create":
                self._make_room(sender)
            self._use(sid, message["record"], now)  # type: ignore[arg-type]
            if op == "session_save":
                self._relay(sender, {"op": "changed", "sid": sid, "record": message["record"]})
            return {"ok": True}
        if op == "session_delete":
            self._records.pop(sid, None)  # type: ignore[arg-type]
            self._relay(sender, {"op": "ended", "sid": sid})
            return {"ok": True}
        if op == "session_touch":
            for one in message.get("sids") or ():
                found = self._records.get(one)
                if found is not None:
                    self._use(one, found[0], now)
            return None
        if op == "session_send":
            channel = self._nodes().get(str(message.get("to")))
            if channel is not None:
                channel.notify("session_message", message=message["message"])
            return None
        if op == "session_broadcast":
            self._relay(sender, message["message"])
            return None
        return {"ok": False, "message": f"unknown request {op!r}"}

    def sweep(self) -> None:
        """Forget the records unused for session_idle_timeout (run now and then)."""
        cutoff = time.monotonic() - self._idle
        while self._records:
            sid, (_, last) = next(iter(self._records.items()))
            if last > cutoff:
                break
            del self._records[sid]

    def _use(self, sid: str, record: Message, now: float) -> None:
        self._records[sid] = (record, now)
        self._records.move_to_end(sid)

    def _make_room(self, sender: str) -> None:
        self.sweep()
        while len(self._records) >= self._max:
            sid, _ = self._records.popitem(last=False)
            log.info("session cap (server.http.max_sessions) reached: ending the least recently used session")
            self._relay("", {"op": "ended", "sid": sid})

    def _relay(self, sender: str, message: Message) -> None:
        for node, channel in self._nodes().items():
            if node != sender:
                channel.notify("session_message", message=message)
