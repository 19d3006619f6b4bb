"""Where the records of 2025 sessions live (`server.http.sessions`), and how the processes serving them
talk to each other.

A record is what `Session.state()` returns: the negotiated revision, the client's capabilities, the
logging level, the resource subscriptions, and which process holds the session's GET stream. Each
process serves a session through a local copy built from its record (http_sessions.SessionTable); the
store carries the records and small messages between processes ("nodes"):
- `changed` (a record was saved: copies take up the new state), `ended` (DELETE: copies end),
- `answer` (a client's answer to a request another node sent, routed by the request id's node),
- `cancel` (notifications/cancelled for a call that may run on another node).

Backends:
- LocalStore: one process holds every session (a lone server); nothing is shared, nothing is sent.
- the supervisor's store (server/session_link.py): the workers of one `serve --workers N` share the
  records the supervisor keeps in memory, and it relays their messages.
- RedisStore (transports/session_redis.py): every instance using one Redis pool.

Contract: `create`, `fetch`, `save` and `delete` raise StoreUnavailable when the backend cannot answer
(the request gets 503, never a wrong 404). `save` and `delete` tell every other node. A node never
receives its own messages. Records expire after `session_idle_timeout` without a `touch`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

Message = dict[str, Any]
Handler = Callable[[Message], None]


class StoreUnavailable(Exception):
    """The session store did not answer (Redis down, the supervisor gone)."""


class SessionStore(Protocol):
    node: str  # this process's id among the nodes sharing the store ("" when nothing is shared)
    shared: bool  # False: this process holds every session, and a local copy is the session itself

    async def start(self, handler: Handler) -> None:
        """Begin receiving other nodes' messages; `handler` is called on the event loop."""

    async def create(self, sid: str, record: Message) -> None: ...

    async def fetch(self, sid: str) -> Message | None:
        """The record of `sid`, None when there is none (never opened, ended, or expired)."""

    async def save(self, sid: str, record: Message) -> None: ...

    async def delete(self, sid: str) -> None: ...

    def touch(self, sids: Iterable[str]) -> None:
        """These sessions were in use: their records live on (batched; failures only logged)."""

    def send(self, node: str, message: Message) -> None:
        """Deliver `message` to one node (dropped if that node is gone)."""

    def broadcast(self, message: Message) -> None: ...

    async def signing_key(self) -> bytes | None:
        """A key every process sharing the store signs 2026-07-28 requestState with (None: none to share)."""

    async def close(self) -> None: ...


class LocalStore:
    """One process, every session: the copies in the SessionTable are the records."""

    node = ""
    shared = False

    async def start(self, handler: Handler) -> None:
        return None

    async def create(self, sid: str, record: Message) -> None:
        return None

    async def fetch(self, sid: str) -> Message | None:
        return None

    async def save(self, sid: str, record: Message) -> None:
        return None

    async def delete(self, sid: str) -> None:
        return None

    def touch(self, sids: Iterable[str]) -> None:
        return None

    def send(self, node: str, message: Message) -> None:
        return None

    def broadcast(self, message: Message) -> None:
        return None

    async def signing_key(self) -> bytes | None:
        return None

    async def close(self) -> None:
        return None
