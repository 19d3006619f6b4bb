"""In-memory cache store on cachetools: lru (LRUCache), lfu (LFUCache), ttl (TLRUCache, per-entry expiry).

Contract (single-threaded: used from the event loop only):
- An entry is a result dict shared by every hit; results are never mutated after they are built.
- `get` never returns an expired entry (lru/lfu expire lazily on read, ttl proactively on writes).
- Bounds hold after every `put`: at most `max_entries` entries and `max_bytes` bytes (JSON size); the
  strategy's victim goes first. Each entry is indexed by its tags, so invalidation by tag costs only
  the entries it drops.
"""

from __future__ import annotations

import math
import time
from typing import Any

from cachetools import Cache, LFUCache, LRUCache, TLRUCache

from webmcp.cache import metrics
from webmcp.config.caches import MemorySpec


class Entry:
    __slots__ = ("expires", "result", "size", "tags")

    def __init__(self, result: dict[str, Any], size: int, tags: tuple[str, ...], expires: float) -> None:
        self.result = result
        self.size = size
        self.tags = tags
        self.expires = expires


class _TtlCache(TLRUCache[str, Entry]):
    """TLRUCache that reports the entries its own expiry drops (so the tag index stays exact)."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(math.inf, lambda _k, entry, _now: entry.expires, getsizeof=lambda e: e.size)
        self.store = store

    def expire(self, time: Any = None) -> list[tuple[str, Entry]]:
        expired: list[tuple[str, Entry]] = super().expire(time)
        for key, entry in expired:
            self.store._forget(key, entry)
        return expired


class MemoryStore:
    def __init__(self, spec: MemorySpec, label: str) -> None:
        self.spec = spec
        self._max_entries = spec.max_entries or math.inf
        self._max_bytes = spec.max_bytes or math.inf
        self._entries: Cache[str, Entry]
        if spec.strategy == "ttl":
            self._entries = _TtlCache(self)
        elif spec.strategy == "lfu":
            self._entries = LFUCache(math.inf, getsizeof=lambda e: e.size)
        else:
            self._entries = LRUCache(math.inf, getsizeof=lambda e: e.size)
        self._by_tag: dict[str, set[str]] = {}
        self._evictions = metrics.EVICTIONS.labels(label)
        self._bytes = metrics.BYTES.labels(label)
        self._count = metrics.ENTRIES.labels(label)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return int(self._entries.currsize)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._drop(key)
            return None
        return entry.result

    def put(self, key: str, result: dict[str, Any], size: int, tags: tuple[str, ...], ttl: float | None) -> None:
        if size > self._max_bytes:
            return  # larger than the whole cache: not cached
        self._drop(key)
        entries = self._entries
        if isinstance(entries, TLRUCache):
            entries.expire()  # expired entries go before any live one is evicted
        while entries and (len(entries) >= self._max_entries or entries.currsize + size > self._max_bytes):
            try:
                victim, entry = entries.popitem()
            except KeyError:  # what was left had expired meanwhile
                break
            self._forget(victim, entry)
            self._evictions.inc()
        expires = time.monotonic() + ttl if ttl is not None else math.inf
        entries[key] = Entry(result, size, tags, expires)
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        self._gauges()

    def drop(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = ()) -> int:
        """Drop the entries with any of `tags` and those under `keys`; how many went."""
        dropped = 0
        for tag in tags:
            for key in tuple(self._by_tag.get(tag, ())):
                dropped += self._drop(key)
        for key in keys:
            dropped += self._drop(key)
        self._gauges()
        return dropped

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._by_tag.clear()
        self._gauges()
        return count

    def _drop(self, key: str) -> int:
        entry = self._entries.pop(key, None)
        if entry is None:
            return 0
        self._forget(key, entry)
        return 1

    def _forget(self, key: str, entry: Entry) -> None:
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def _gauges(self) -> None:
        self._bytes.set(self._entries.currsize)
        self._count.set(len(self._entries))
