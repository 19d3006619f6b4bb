"""The state of one MCP client over Streamable HTTP: the POSTs waiting for their replies, the standalone
GET stream, and the protocol Session behind them.

Contract: used from the event loop only. A message the Session emits goes to the POST of the request
it answers or belongs to (`related`), else to the GET stream; a request to the client that no stream
can carry fails at once instead of waiting for the tool's timeout.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from webmcp.graph.holder import GraphHolder
from webmcp.protocol.client_requests import ClientRequests
from webmcp.protocol.session import Session

log = logging.getLogger(__name__)


END: dict[str, Any] = {}  # put_end()'s marker: the request ends without a reply


class Reply:
    """The messages bound for one POST: its reply, and what the call sends before it."""

    __slots__ = ("_waiter", "json_only", "messages")

    def __init__(self, json_only: bool) -> None:
        self.messages: collections.deque[dict[str, Any]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.json_only = json_only

    def put_end(self) -> None:
        """No reply will come (the call was cancelled by the client)."""
        self.messages.append(END)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def put(self, message: dict[str, Any]) -> bool:
        """Queue a message for this POST; False when a JSON-only reply cannot carry it."""
        if self.json_only and ("id" not in message or "method" in message):
            return False  # no stream to carry notifications or requests on
        self.messages.append(message)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    async def next(self) -> dict[str, Any]:
        while not self.messages:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self.messages.popleft()


class Standalone:
    """The GET stream of a session. None in the queue ends it. `token` names it among all processes."""

    def __init__(self, token: str) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.token = token


class HttpSession:
    def __init__(self, sid: str | None, holder: GraphHolder, json_only: bool, client: str, node: str = "") -> None:
        self.id = sid
        self.replies: dict[Any, Reply] = {}
        self.standalone: Standalone | None = None  # the GET stream, when this process holds it
        self.stream: str | None = None  # the token of the session's GET stream, in whichever process holds it
        self.json_only = json_only
        self.session = Session(holder, self.emit)
        if node:  # sessions shared between processes: ids that name this one
            self.session.client_requests = ClientRequests(self.emit, node)
        self.session.can_request = not json_only
        self.session.client_id = client
        self.session.keeps_state = sid is not None
        self.session.abandoned = self._abandoned
        self.last_used = asyncio.get_running_loop().time()

    def emit(self, message: dict[str, Any], related: str | int | None = None) -> None:
        is_reply = "method" not in message
        if related is None and is_reply:
            related = message.get("id")  # a reply goes to the POST that carried its request
        reply = self.replies.get(related) if related is not None else None
        if reply is not None and reply.put(message):
            return
        if not is_reply and reply is None and self.standalone is not None:
            self.standalone.queue.put_nowait(message)  # replies never go on the GET stream (spec)
            return
        if not is_reply and "id" in message:  # a request to the client that no stream can carry
            self.session.client_requests.fail(message["id"], "no stream can carry this request to the client "
                                              "(the call's POST does not accept SSE, and there is no GET stream)")
            return
        log.debug("no stream for %s; dropped", message.get("method") or f"reply {message.get('id')!r}")

    def _abandoned(self, mid: str | int) -> None:
        """The call of POST `mid` ends with no reply (the client cancelled it): end that POST."""
        reply = self.replies.get(mid)
        if reply is not None:
            reply.put_end()

    def is_idle(self) -> bool:
        return not self.replies and not self.session.in_flight and self.standalone is None



def end_alone(hs: HttpSession) -> None:
    """The POST of a sessionless request is over. A call still running has lost the only stream its reply
    could take (the client went away, or the server is stopping): cancel it."""
    hs.session.close()
    for task in hs.session.in_flight.values():
        task.cancel()



def is_reply_to(message: dict[str, Any], mid: Any) -> bool:
    return "method" not in message and message.get("id") == mid and ("result" in message or "error" in message)
