"""One cache at run time: a memory store, a Redis tier, or both (l1 in front of Redis).

Contract (all on the event loop):
- `epoch` grows with every invalidation (local or received). A fill records the epoch before it
  looks anything up and stores into memory only if the epoch is unchanged when it ends; together with
  the tag index dropping the matching entries, no entry older than an invalidation survives it.
- `flights` holds the running fill of each key (single-flight). An invalidation forgets them all, so
  a call arriving after it never joins a fill that started before it.
- `local` is the memory store calls read first: the memory backend's store; for Redis, the l1 tier
  while Redis is up, the l1 or the fallback store while it is down (None: nothing to read locally).
  `bypass` is set while Redis is down with `fallback: none`: calls run without the cache.
- `last_good` (only once a tool with `fallback: {cached: true}` uses the cache) is dropped from by
  every invalidation exactly like the memory tiers (`_apply`).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from webmcp.cache import metrics
from webmcp.cache.last_good import LastGood
from webmcp.cache.memory import MemoryStore
from webmcp.config.caches import DEFAULT_MAX_ENTRIES, CacheSpec, MemorySpec

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from webmcp.cache.remote import Invalidation, RemoteStore

log = logging.getLogger(__name__)


class Cache:
    __slots__ = ("_fallback", "bypass", "epoch", "flights", "l1", "last_good", "local", "name", "remote", "spec",
                 "write_back")

    def __init__(self, spec: CacheSpec, redis: Redis | None = None, subscriber: Redis | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.epoch = 0
        self.flights: dict[str, Any] = {}  # key -> the running fill (policy._Flight)
        self.bypass = False
        self.write_back = spec.write == "back"
        self.remote: RemoteStore | None = None
        self._fallback: MemoryStore | None = None
        self.last_good: LastGood | None = None
        if spec.backend == "memory":
            assert spec.memory is not None
            self.l1: MemoryStore | None = MemoryStore(spec.memory, spec.name)
            self.local: MemoryStore | None = self.l1
            return
        assert redis is not None and subscriber is not None
        self.l1 = MemoryStore(spec.memory, spec.name) if spec.memory is not None else None
        if spec.fallback == "memory" and self.l1 is None:
            self._fallback = MemoryStore(MemorySpec("lru", DEFAULT_MAX_ENTRIES, None, None), spec.name)
        from webmcp.cache.remote import RemoteStore  # redis: imported only by configs with a Redis cache

        self.remote = RemoteStore(redis, subscriber, spec.prefix, self._on_state, self._on_invalidation)
        self.local, self.bypass = self._when_down()  # until the first subscription answers

    async def start(self, wait: float) -> None:
        if self.remote is not None:
            await self.remote.start(wait)

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()

    def keep_last_good(self) -> LastGood:
        """The store of last known good results (made on first use; kept with the cache across reloads):
        at least 1000 entries, or the memory tier's max_entries if larger, and the memory tier's max_bytes."""
        if self.last_good is None:
            memory = self.spec.memory
            entries, size = DEFAULT_MAX_ENTRIES, math.inf
            if memory is not None:
                entries, size = max(entries, memory.max_entries or 0), memory.max_bytes or size
            self.last_good = LastGood(entries, size)
        return self.last_good

    # -- state -----------------------------------------------------------------------------
    def _on_state(self, up: bool) -> None:
        """Redis went down or came back: switch what calls read, and forget what may be stale."""
        if up:
            self._apply((), (), True)  # memory may have missed invalidations of other instances
            self.local, self.bypass = self.l1, False
        else:
            self.local, self.bypass = self._when_down()
            metrics.FALLBACKS.labels(self.name).inc()
        metrics.DEGRADED.labels(self.name).set(0 if up else 1)

    def _when_down(self) -> tuple[MemoryStore | None, bool]:
        if self.spec.fallback == "none":
            return None, True
        return self.l1 or self._fallback, False

    def _on_invalidation(self, inv: Invalidation) -> None:
        tags, keys, everything = inv
        self._apply(tags, keys, everything)

    def _apply(self, tags: tuple[str, ...], keys: tuple[str, ...], everything: bool) -> int:
        """Drop matching entries from memory; running fills may no longer store or be joined."""
        self.epoch += 1
        self.flights.clear()
        dropped = 0
        for store in (self.l1, self._fallback):
            if store is not None:
                dropped += store.clear() if everything else store.drop(tags, keys)
        last_good = self.last_good
        if last_good is not None:
            if everything:
                last_good.clear()
            else:
                last_good.drop(tags, keys)
        return dropped

    # -- invalidation ----------------------------------------------------------------------
    async def invalidate(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = (), everything: bool = False) -> int:
        """Drop entries by tag, key or all, here and (Redis) in every instance; entries dropped here."""
        dropped = self._apply(tags, keys, everything)
        for by, n in (("tag", len(tags)), ("key", len(keys)), ("all", int(everything))):
            if n:
                metrics.INVALIDATIONS.labels(self.name, by).inc(n)
        if self.remote is not None:
            await self.remote.invalidate(tags, keys, everything)
        return dropped

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.spec.backend}
        if self.l1 is not None:
            out.update(entries=len(self.l1), bytes=self.l1.size)
        if self.remote is not None:
            out["redis"] = "up" if self.remote.up else "down"
        return out
