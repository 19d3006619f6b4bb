"""The object a tool receives to talk back to the client while it runs.

Notifications (progress, log messages) work from async tools and from sync tools running in worker
threads, and may be awaited or not: they are queued on the event loop and written with the next
flush. Questions for the client (`sample`, `elicit`, `list_roots`) are coroutines for async tools; each
checks first that the client declared the capability (ClientRequestError otherwise; -32021 on revision
2026-07-28). On a 2025 session a question is a request to the client; on 2026-07-28 it is answered
from the request's inputResponses, or ends the round with an input_required result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Generator
from typing import Any, Protocol

from webmcp.call.jsonrpc import MISSING_CLIENT_CAPABILITY
from webmcp.errors import ClientRequestError, ProtocolError


class InputRequired(BaseException):
    """Raised by a question the client has not answered yet (2026-07-28). A BaseException, like
    CancelledError: a tool's own `except Exception` must not swallow it."""


class ClientRequests(Protocol):
    def send(self, method: str, params: dict[str, Any], related: str | int | None) -> Awaitable[dict[str, Any]]: ...


class Peer(Protocol):
    """What a Context needs of the session its call came on (protocol/session.py implements it)."""

    @property
    def client_capabilities(self) -> dict[str, Any]: ...
    @property
    def client_id(self) -> str: ...
    @property
    def keeps_state(self) -> bool: ...
    @property
    def log_level(self) -> str | None: ...
    @property
    def can_request(self) -> bool: ...
    @property
    def client_requests(self) -> ClientRequests: ...

    def emit(self, message: dict[str, Any], related: str | int | None) -> None: ...


class Answers(Protocol):
    """2026-07-28: the answers one round of a call can use (protocol/input_required.Inputs)."""

    @property
    def carries_answers(self) -> bool: ...

    def ask(self, key: str | None, method: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def result(self) -> dict[str, Any]: ...

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
OFF = "off"  # a 2026-07-28 request that names no log level gets no log messages
_RANK = {**{name: i for i, name in enumerate(LEVELS)}, OFF: len(LEVELS)}


class _Sent:
    """Returned by Context methods so that `await ctx.info(...)` and `ctx.info(...)` both work."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_SENT = _Sent()


class Context:
    """Passed to a tool that asks for it. `tool` is the name of the running tool."""

    __slots__ = ("_closed", "_loop", "_related", "_session", "_thread", "asked", "inputs", "progress_token", "tool")

    def __init__(
        self, session: Peer, tool: str, progress_token: str | int | None, request_id: str | int | None = None
    ) -> None:
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._closed = False
        self._related = request_id
        self.tool = tool
        self.progress_token = progress_token
        self.inputs: Answers | None = None  # 2026-07-28: questions are answered through input_required results
        self.asked = False  # the call asked its client something: its result is that client's, not shareable

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """What the client declared it can do (`sampling`, `elicitation`, `roots`...)."""
        return self._session.client_capabilities

    @property
    def client(self) -> str:
        """Who is calling, for per-client limits and spans: `stdio`, or over HTTP a hash of the session
        id, else the client's address."""
        return self._session.client_id

    @property
    def session(self) -> Peer:
        """The session the call came on (one object per client session, for `scope: session` caches)."""
        return self._session

    @property
    def session_keeps_state(self) -> bool:
        """False when the request is served on its own (stateless HTTP, revision 2026-07-28)."""
        return self._session.keeps_state

    def close(self) -> None:
        """The call has its reply: anything sent from now on (a lingering thread, say) is dropped."""
        self._closed = True

    def _send(self, message: dict[str, Any]) -> None:
        if threading.get_ident() == self._thread:
            self._deliver(message)
        else:
            self._loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: dict[str, Any]) -> None:
        if not self._closed:
            self._session.emit(message, self._related)

    # -- notifications -----------------------------------------------------------------------
    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> _Sent:
        """Send notifications/progress, if the client asked for progress on this call."""
        if self.progress_token is not None:
            params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
            if total is not None:
                params["total"] = total
            if message is not None:
                params["message"] = message
            self._send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})
        return _SENT

    def log(self, level: str, data: Any, logger: str | None = None) -> _Sent:
        """Send notifications/message at `level` unless the client set a higher minimum level."""
        minimum = self._session.log_level
        if minimum is not None and _RANK.get(level, 0) < _RANK[minimum]:
            return _SENT
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        self._send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})
        return _SENT

    def debug(self, data: Any) -> _Sent:
        return self.log("debug", data)

    def info(self, data: Any) -> _Sent:
        return self.log("info", data)

    def warning(self, data: Any) -> _Sent:
        return self.log("warning", data)

    def error(self, data: Any) -> _Sent:
        return self.log("error", data)

    # -- requests to the client --------------------------------------------------------------
    async def sample(
        self,
        messages: str | list[dict[str, Any]],
        max_tokens: int = 1000,
        *,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: list[str] | None = None,
        model_preferences: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Ask the client's model (sampling/createMessage). A string is one user text message.
        Returns the client's result: role, content, model, stopReason. `key` names the question in a
        2026-07-28 `input_required` result (default: input-N, by the order of the questions)."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": {"type": "text", "text": messages}}]
        params: dict[str, Any] = {"messages": messages, "maxTokens": max_tokens}
        optional = {"systemPrompt": system_prompt, "temperature": temperature, "stopSequences": stop_sequences,
                    "modelPreferences": model_preferences}
        params.update({k: v for k, v in optional.items() if v is not None})
        return await self._request("sampling", "sampling/createMessage", params, key)

    async def elicit(self, message: str, schema: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """Ask the user for input (elicitation/create) described by a flat object schema.
        Returns the client's result: `action` (accept, decline, cancel) and, on accept, `content`."""
        return await self._request("elicitation", "elicitation/create",
                                   {"message": message, "requestedSchema": schema}, key)

    async def list_roots(self, *, key: str | None = None) -> list[dict[str, Any]]:
        """The client's roots (roots/list): a list of {uri, name?}."""
        result = await self._request("roots", "roots/list", {}, key)
        roots = result.get("roots")
        return roots if isinstance(roots, list) else []

    async def _request(self, capability: str, method: str, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        if threading.get_ident() != self._thread:
            raise ClientRequestError(f"{method} is available to async tools only")
        self.asked = True  # even when it cannot be asked: then this run's outcome is its client's alone
        if self._closed:
            raise ClientRequestError(f"{method}: the call this question belongs to has ended")
        if self.inputs is not None:
            if capability not in self._session.client_capabilities:
                raise ProtocolError(MISSING_CLIENT_CAPABILITY, f"{self.tool} needs the client's {capability} "
                                    "capability, which the request did not declare",
                                    {"requiredCapabilities": {capability: {}}})
            if method == "elicitation/create":
                params = {"mode": "form", **params}  # the 2026-07-28 schema names the mode
            return self.inputs.ask(key, method, params)
        if capability not in self._session.client_capabilities:
            raise ClientRequestError(f"the client does not support {capability} (it did not declare the capability)")
        if not self._session.can_request:
            raise ClientRequestError(f"{method} needs a back-channel, which this transport mode does not have "
                                     "(JSON-only or stateless HTTP)")
        return await self._session.client_requests.send(method, params, self._related)
