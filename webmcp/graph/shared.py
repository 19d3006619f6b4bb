"""Components shared between Graph generations.

A reload builds a new Graph; a component whose settings did not change (the worker threads, the
pooled HTTP session with its keep-alive connections) is handed over instead of rebuilt. Each Graph
that uses a component holds one reference, released when that Graph closes; the component closes
with its last reference.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

Key = tuple[Any, ...]  # (component name, every setting it was built with)


class Shared:
    __slots__ = ("_close", "key", "refs", "value")

    def __init__(self, key: Key, value: Any, close: Callable[[], Any]) -> None:
        self.key = key
        self.value = value
        self._close = close
        self.refs = 0

    def acquire(self, stack: AsyncExitStack) -> Any:
        self.refs += 1
        stack.push_async_callback(self._release)
        return self.value

    async def _release(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            result = self._close()
            if inspect.isawaitable(result):
                await result
