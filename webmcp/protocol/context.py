"""The object a tool receives to talk back to the client while it runs.

Every method works from async tools and from sync tools running in worker threads, and may be
awaited or not: notifications are queued on the event loop and written with the next flush.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from typing import Any

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_RANK = {name: i for i, name in enumerate(LEVELS)}


class _Sent:
    """Returned by Context methods so that `await ctx.info(...)` and `ctx.info(...)` both work."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_SENT = _Sent()


class Context:
    """Passed to a tool that asks for it. `tool` is the name of the running tool."""

    __slots__ = ("_closed", "_emit", "_level", "_loop", "_related", "_thread", "progress_token", "tool")

    def __init__(
        self,
        emit: Callable[[dict[str, Any], str | int | None], None],
        level: Callable[[], str | None],
        tool: str,
        progress_token: str | int | None,
        request_id: str | int | None = None,
    ) -> None:
        self._emit = emit
        self._level = level
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._closed = False
        self._related = request_id
        self.tool = tool
        self.progress_token = progress_token

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
            self._emit(message, self._related)

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
        minimum = self._level()
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
