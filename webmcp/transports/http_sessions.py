"""The 2025 sessions this process serves over HTTP: a local copy (HttpSession) per session in use here,
kept in step with the session's record in the store (transports/session_store.py), so that any worker
or instance sharing the store serves any session.

Contract (used from the event loop only):
- `initialize` opens a copy here; once it succeeded, its record is created before the reply leaves
  (the client's next request may reach another process at once). A request for a session this process
  has no copy of builds one from the record: unknown record, 404; store down, StoreUnavailable (503).
- Whatever changes a session's state (logging/setLevel, resources/(un)subscribe, opening or losing
  the GET stream) is saved, and the other copies take it up.
- Messages from the client that concern another process are routed there: an answer to a server->client
  request goes to the node named in the request's id; notifications/cancelled for a call not running
  here goes to every node.
- One GET stream per session: a new one, on any process, replaces the one before (which ends).
- DELETE ends the session everywhere (`delete`). Ending or dropping a copy (idle, evicted at the cap,
  shutdown) is local: with a shared store the session lives on in its record, which expires after
  `session_idle_timeout` without use anywhere. With the LocalStore the copy is the session.
- Calls run where their POST arrived; when that process dies, those calls are lost, the session is not.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from webmcp.call import jsonrpc
from webmcp.call.jsonrpc import INTERNAL_ERROR
from webmcp.config.spec import HttpSpec
from webmcp.graph.holder import GraphHolder
from webmcp.protocol.client_requests import node_of
from webmcp.transports.http_session import HttpSession, Standalone
from webmcp.transports.session_store import Message, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

# What a request may change in a session's record (answered inline by Session.receive).
STATE_METHODS = frozenset({"logging/setLevel", "resources/subscribe", "resources/unsubscribe"})


class SessionTable:
    def __init__(self, store: SessionStore, holder: GraphHolder, http: HttpSpec, json_only: bool) -> None:
        self.store = store
        self.copies: dict[str, HttpSession] = {}
        self._holder = holder
        self._http = http
        self._json_only = json_only
        self._streams = itertools.count(1)
        self._used: set[str] = set()  # sessions used since the last touch (shared stores)
        self._saving: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.copies)

    async def start(self) -> None:
        await self.store.start(self._on_message)

    # -- finding and opening ---------------------------------------------------------------------
    def open(self, sid: str, client: str) -> HttpSession | None:
        """A copy for a new session (initialize); None at `max_sessions` when every copy is busy."""
        if len(self.copies) >= self._http.max_sessions and not self._evict_one():
            return None
        return self._copy(sid, client)

    async def opened(self, hs: HttpSession) -> None:
        """initialize succeeded: the record exists before the client can send its next request."""
        assert hs.id is not None
        await self.store.create(hs.id, self._record(hs))

    def discard(self, hs: HttpSession) -> None:
        """initialize failed: the session never opened."""
        if hs.id is not None:
            self.copies.pop(hs.id, None)
        hs.session.close()

    def local(self, sid: str) -> HttpSession | None:
        """This process's copy of session `sid`, if it has one (the hot path: no I/O)."""
        if self.store.shared:
            self._used.add(sid)
        return self.copies.get(sid)

    async def fetch(self, sid: str, client: str) -> HttpSession | None:
        """A copy of session `sid` built from its record; None when the store has none."""
        if not self.store.shared:
            return None
        record = await self.store.fetch(sid)
        if record is None:
            return None
        hs = self.copies.get(sid)  # another request of this session may have built it meanwhile
        if hs is None:
            if len(self.copies) >= self._http.max_sessions:
                self._evict_one()
            hs = self._copy(sid, client)
            self._apply(hs, record)
        return hs

    def _copy(self, sid: str, client: str) -> HttpSession:
        hs = self.copies[sid] = HttpSession(sid, self._holder, self._json_only, client, self.store.node)
        return hs

    # -- state -------------------------------------------------------------------------------------
    async def changed(self, hs: HttpSession) -> None:
        """Save the session's state; the other copies take it up."""
        if self.store.shared and hs.id is not None:
            await self.store.save(hs.id, self._record(hs))

    def changed_later(self, hs: HttpSession) -> None:
        """`changed` in the background (where nothing waits for it), failures logged."""
        if not self.store.shared:
            return
        task = asyncio.get_running_loop().create_task(self._save_quietly(hs))
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save_quietly(self, hs: HttpSession) -> None:
        try:
            await self.changed(hs)
        except StoreUnavailable as exc:
            log.warning("session state not saved (the session store did not answer: %s)", exc)

    def _record(self, hs: HttpSession) -> Message:
        return {**hs.session.state(), "stream": hs.stream}

    def _apply(self, hs: HttpSession, record: Message) -> None:
        hs.session.restore(record)
        hs.stream = record.get("stream")
        standalone = hs.standalone
        if standalone is not None and standalone.token != hs.stream:  # another process took the GET stream
            hs.standalone = None
            standalone.queue.put_nowait(None)

    # -- the GET stream ----------------------------------------------------------------------------
    async def take_stream(self, hs: HttpSession) -> Standalone:
        """Open the session's GET stream here; one open before (here or elsewhere) ends."""
        stream = Standalone(f"{self.store.node}/{next(self._streams)}")
        before, hs.standalone, hs.stream = hs.standalone, stream, stream.token
        if before is not None:
            before.queue.put_nowait(None)
        await self.changed(hs)
        return stream

    def lose_stream(self, hs: HttpSession, stream: Standalone) -> None:
        """The GET stream `stream` closed (the client went away, or it was replaced)."""
        if hs.standalone is stream:
            hs.standalone = None
        if hs.stream == stream.token:
            hs.stream = None
            if hs.id in self.copies:
                self.changed_later(hs)

    # -- messages between processes ------------------------------------------------------------------
    def receive(self, hs: HttpSession, msg: dict[str, Any]) -> None:
        """A notification or response from the client, for this copy or for the process it concerns."""
        if self.store.shared and hs.id is not None:
            if "method" not in msg:  # the client's answer to a server->client request
                node = node_of(msg.get("id"))
                if node and node != self.store.node:
                    self.store.send(node, {"op": "answer", "sid": hs.id, "message": msg})
                    return
            elif msg.get("method") == "notifications/cancelled":
                params = msg.get("params")
                rid = params.get("requestId") if isinstance(params, dict) else None
                if isinstance(rid, (str, int)) and rid not in hs.session.in_flight:
                    self.store.broadcast({"op": "cancel", "sid": hs.id, "message": msg})
                    return
        hs.session.receive(msg)

    def _on_message(self, message: Message) -> None:
        op = message.get("op")
        if op == "resync":  # the store may have lost messages: rebuild idle copies from their records
            for idle in [h for h in self.copies.values() if h.is_idle()]:
                self.end(idle, "resync")
            return
        sid = message.get("sid")
        hs = self.copies.get(sid) if isinstance(sid, str) else None
        if hs is None:
            return
        if op == "changed":
            self._apply(hs, message["record"])
        elif op == "ended":
            self.end(hs, "the session was ended")
        elif op in ("answer", "cancel"):
            hs.session.receive(message["message"])

    # -- ending ------------------------------------------------------------------------------------
    async def delete(self, hs: HttpSession) -> None:
        """DELETE: the session ends in every process."""
        self.end(hs, "the session was ended")
        if hs.id is not None:
            await self.store.delete(hs.id)

    def end(self, hs: HttpSession, reason: str) -> None:
        """Forget this copy, cancel its calls, answer its waiting POSTs, close its GET stream."""
        if hs.id is not None and self.copies.get(hs.id) is hs:
            del self.copies[hs.id]
        hs.session.close()
        for task in list(hs.session.in_flight.values()):
            task.cancel()
        for mid, reply in hs.replies.items():
            reply.put(jsonrpc.error(mid, INTERNAL_ERROR, reason))
        if hs.standalone is not None:
            hs.standalone.queue.put_nowait(None)

    def _evict_one(self) -> bool:
        """At the cap: end the least recently used idle copy (so abandoned sessions cannot lock everyone
        out until they expire). With a shared store only the copy goes; the session lives on in its record.
        False when every copy is busy."""
        idle = [hs for hs in self.copies.values() if hs.is_idle()]
        if not idle:
            return False
        oldest = min(idle, key=lambda hs: hs.last_used)
        log.info("session cap reached: ending the least recently used idle session")
        self.end(oldest, "the session was ended to make room for a new one")
        return True

    async def reap(self) -> None:
        """Forever (run as a task): end copies idle for longer than session_idle_timeout, and keep the
        records of the sessions in use here alive."""
        idle = self._http.session_idle_timeout
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(1.0, min(idle / 4, 60.0)))
            now = loop.time()
            if self.store.shared:
                busy = {sid for sid, hs in self.copies.items() if not hs.is_idle()}
                used, self._used = self._used | busy, set()
                if used:
                    self.store.touch(used)
            for hs in [h for h in self.copies.values() if h.is_idle() and now - h.last_used > idle]:
                log.debug("ending idle session %s", hs.id)
                self.end(hs, "the session expired")

    async def close(self) -> None:
        for task in list(self._saving):
            task.cancel()
        await self.store.close()
