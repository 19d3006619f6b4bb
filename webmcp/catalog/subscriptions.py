"""resources/subscribe: a session's subscribed URIs, and `notifications/resources/updated` when a
subscribed file-backed resource changes (its file's mtime is checked every second while anything is
subscribed)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from webmcp.call.jsonrpc import INVALID_PARAMS
from webmcp.errors import ProtocolError

WATCH_INTERVAL = 1.0
MAX_SUBSCRIPTIONS = 1000


class Subscriptions:
    def __init__(self, files: Callable[[], dict[str, str]], emit: Callable[[dict[str, Any]], None]) -> None:
        self._files = files  # uri -> file of the current graph's file-backed resources
        self._emit = emit
        self._seen: dict[str, int | None] = {}  # uri -> mtime when last looked at
        self._watcher: asyncio.Task[None] | None = None

    def subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        uri = _uri(params)
        if uri not in self._seen and len(self._seen) >= MAX_SUBSCRIPTIONS:
            raise ProtocolError(INVALID_PARAMS, f"at most {MAX_SUBSCRIPTIONS} subscriptions per session")
        self._seen[uri] = self._mtime(uri)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return {}

    def unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._seen.pop(_uri(params), None)
        return {}

    def uris(self) -> list[str]:
        return list(self._seen)

    def replace(self, uris: Iterable[str]) -> None:
        """Hold exactly `uris` (a session's subscriptions as another process of the server saw them)."""
        wanted = list(uris)
        for uri in [u for u in self._seen if u not in wanted]:
            self._seen.pop(uri)
        for uri in wanted:
            if uri not in self._seen:
                self.subscribe({"uri": uri})

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    def _mtime(self, uri: str) -> int | None:
        path = self._files().get(uri)
        if path is None:
            return None
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    async def _watch(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while self._seen:
                await asyncio.sleep(WATCH_INTERVAL)
                for uri, before in list(self._seen.items()):
                    now = self._mtime(uri)
                    if now != before and uri in self._seen:
                        self._seen[uri] = now
                        self._emit({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                                    "params": {"uri": uri}})


def _uri(params: dict[str, Any]) -> str:
    uri = params.get("uri")
    if not isinstance(uri, str):
        raise ProtocolError(INVALID_PARAMS, "params.uri must be a string")
    return uri
