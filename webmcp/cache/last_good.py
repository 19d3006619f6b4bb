"""The last known good result of each key of a cache, for tools with `fallback: {cached: true}`.

Contract (event loop only):
- Written only by a cache fill that succeeded (a fresh result, or one read from Redis) and whose cache
  saw no invalidation while it ran; read only when a tool's backend failed.
- Kept past the entry's TTL and its eviction from the cache proper, but bounded: at most
  `max_entries` and `max_bytes` (JSON size), least recently written first out.
- Dropped with the cache's own entries by every invalidation (tag, key, all; local, received from
  another instance, or Redis coming back), so a value that was invalidated is never served.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Any


class LastGood:
    __slots__ = ("_by_tag", "_entries", "max_bytes", "max_entries", "size")

    def __init__(self, max_entries: int, max_bytes: float = math.inf) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, tuple[dict[str, Any], float, tuple[str, ...], int]] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: str, result: dict[str, Any], size: int, tags: tuple[str, ...]) -> None:
        self._drop(key)
        if size > self.max_bytes:
            return
        self._entries[key] = (result, time.monotonic(), tags, size)
        self.size += size
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries or self.size > self.max_bytes:
            old, (_r, _t, old_tags, old_size) = self._entries.popitem(last=False)
            self.size -= old_size
            self._forget(old, old_tags)

    def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        """(the result, seconds since it was stored), or None."""
        found = self._entries.get(key)
        if found is None:
            return None
        return found[0], time.monotonic() - found[1]

    def drop(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> None:
        for tag in tags:
            for key in tuple(self._by_tag.get(tag, ())):
                self._drop(key)
        for key in keys:
            self._drop(key)

    def clear(self) -> None:
        self.size = 0
        self._entries.clear()
        self._by_tag.clear()

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self.size -= found[3]
            self._forget(key, found[2])

    def _forget(self, key: str, tags: tuple[str, ...]) -> None:
        for tag in tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
