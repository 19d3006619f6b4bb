"""Explicit invalidation from outside a call, whatever carries it (`POST /admin/cache/clear`, a request
file with SIGUSR1, `webmcp cache clear`): what to drop, dropping it in a serving Graph, and dropping it
in Redis directly.

`webmcp cache clear` acts on Redis-backed caches directly (bump the versions, publish, wait for every
subscribed instance to acknowledge), which reaches every instance wherever it runs. Memory caches live
inside the serving processes: the command writes a request file next to each local server's run file
and sends it SIGUSR1; the server applies the request and writes the answer beside it. This works for
stdio servers too; servers of the config on other machines are reached through Redis only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webmcp.cache.cache import Cache
    from webmcp.config.spec import ConfigSpec
    from webmcp.graph.graph import Graph

class ClearRequest:
    """What to drop: entries with any of `tags`, under any of `keys`, or everything; in one cache or all."""

    __slots__ = ("cache", "everything", "keys", "tags")

    def __init__(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = (), everything: bool = False,
                 cache: str | None = None) -> None:
        self.tags, self.keys, self.everything, self.cache = tags, keys, everything, cache

    @classmethod
    def from_json(cls, data: Any) -> ClearRequest:
        """From {"tags": [...], "keys": [...], "all": bool, "cache": name}; ValueError when malformed."""
        if not isinstance(data, dict) or set(data) - {"tags", "keys", "all", "cache"}:
            raise ValueError('expected an object with "tags", "keys", "all" and/or "cache"')
        tags, keys = data.get("tags", []), data.get("keys", [])
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in (tags, keys)):
            raise ValueError('"tags" and "keys" must be lists of strings')
        if not isinstance(data.get("all", False), bool) or not isinstance(data.get("cache", ""), str):
            raise ValueError('"all" must be a boolean and "cache" a cache name')
        if not tags and not keys and not data.get("all"):
            raise ValueError('say what to clear: "tags", "keys" or "all": true')
        return cls(tuple(tags), tuple(keys), bool(data.get("all")), data.get("cache"))

    def as_json(self) -> dict[str, Any]:
        return {"tags": list(self.tags), "keys": list(self.keys), "all": self.everything,
                **({"cache": self.cache} if self.cache else {})}


def caches_of(graph: Graph) -> dict[str, Cache]:
    """The graph's caches by name (an inline cache under its tool's name)."""
    from webmcp.cache.cache import Cache

    return {s.value.name: s.value for s in graph.shared.values() if isinstance(s.value, Cache)}


async def apply(graph: Graph, request: ClearRequest, only: Callable[[Cache], bool] = lambda c: True
                ) -> dict[str, Any]:
    """Invalidate in the graph's caches; {"dropped": entries dropped from memory here, "caches": [...]}."""
    caches = caches_of(graph)
    if request.cache is not None and request.cache not in caches:
        raise KeyError(f"no cache named {request.cache!r}; caches: {', '.join(sorted(caches)) or 'none'}")
    chosen = [caches[request.cache]] if request.cache is not None else list(caches.values())
    chosen = [c for c in chosen if only(c)]
    # Shielded: a client that goes away mid-way does not leave an invalidation half done.
    counts = await asyncio.shield(asyncio.gather(*(c.invalidate(request.tags, request.keys, request.everything)
                                                   for c in chosen)))
    return {"dropped": sum(counts), "caches": sorted(c.name for c in chosen)}


async def clear_redis(spec: ConfigSpec, request: ClearRequest) -> list[tuple[str, int]]:
    """Invalidate the config's Redis-backed caches in Redis directly: (cache, instances that acknowledged)."""
    from webmcp.cache.remote import RemoteStore
    from webmcp.kinds.pools.redis import connect, subscriber

    caches = {name: c for name, c in spec.caches.items()}
    caches.update({t.name: t.cache.inline for t in spec.tools.values() if t.cache and t.cache.inline})
    if request.cache is not None:
        if request.cache not in caches:
            raise KeyError(f"no cache named {request.cache!r}; caches: {', '.join(sorted(caches)) or 'none'}")
        caches = {request.cache: caches[request.cache]}
    out = []
    for name, cache in caches.items():
        if cache.backend != "redis" or cache.pool is None:
            continue
        pool = spec.pools[cache.pool]
        redis, sub = connect(pool), subscriber(pool)
        store = RemoteStore(redis, sub, cache.prefix)
        try:
            await store.start(wait=pool.connect_timeout + 1)
            if not store.up:
                raise ConnectionError(f"cache {name!r}: cannot reach Redis at {pool.url}")
            acks = await store.invalidate(request.tags, request.keys, request.everything)
            out.append((name, max(0, acks - 1)))  # our own subscription acknowledges too
        finally:
            await store.close()
            await redis.aclose()
    return out
