"""A worker's session store with `server.http.sessions: {backend: memory}`: the records kept by the
supervisor (server/session_host.py), reached over the worker's control channel. Implements
transports.session_store.SessionStore; the worker's node name is its pid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from webmcp.server.worker_channel import Channel
from webmcp.transports.session_store import Handler, Message, StoreUnavailable

ASK_TIMEOUT = 5.0  # the supervisor answers from memory; longer means it is stuck


class SupervisorStore:
    shared = True

    def __init__(self, channel: Channel) -> None:
        self.node = str(os.getpid())
        self._channel = channel
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    def deliver(self, message: Message) -> None:
        """A `session_message` notice from the supervisor."""
        if self._handler is not None:
            self._handler(message)

    async def _ask(self, op: str, **fields: object) -> Message:
        try:
            return await self._channel.ask(op, ASK_TIMEOUT, **fields)
        except (ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(f"the supervisor did not answer {op}: {exc or type(exc).__name__}") from None

    async def create(self, sid: str, record: Message) -> None:
        await self._ask("session_create", sid=sid, record=record)

    async def fetch(self, sid: str) -> Message | None:
        answer = await self._ask("session_fetch", sid=sid)
        record = answer.get("record")
        return record if isinstance(record, dict) else None

    async def save(self, sid: str, record: Message) -> None:
        await self._ask("session_save", sid=sid, record=record)

    async def delete(self, sid: str) -> None:
        await self._ask("session_delete", sid=sid)

    def touch(self, sids: Iterable[str]) -> None:
        self._channel.notify("session_touch", sids=list(sids))

    def send(self, node: str, message: Message) -> None:
        self._channel.notify("session_send", to=node, message=message)

    def broadcast(self, message: Message) -> None:
        self._channel.notify("session_broadcast", message=message)

    async def signing_key(self) -> bytes | None:
        return None  # the supervisor hands its key to every worker at hello

    async def close(self) -> None:
        self._handler = None
