"""How a tool uses caches: the cached call path, invalidation after a mutating call, and the set of
caches of one Graph
(opened, and given to tools, by graph/caches.py).

Contract of `ToolCache.call` (entered from `Tool.call` after the argument check):
- A hit (memory first) answers without an admission slot, a timer or the backend.
- A miss runs the tool once per key however many identical calls arrive meanwhile (single-flight):
  the fill is a task of its own, so a cancelled waiter never cancels it for the others; it is
  cancelled only when every waiter has gone.
- Only successful results are stored (unless cache_errors); a Redis failure never fails the call.
- `OUTCOME` (a ContextVar) says, right after the call returns in the caller's task, what the cache did:
  "hit" (memory or Redis), "miss" (ran the tool), "shared" (joined an identical running call) or
  "bypass" (Redis down with fallback: none), or "stale" (the backend failed and the tool's
  `fallback: {cached: true}` served the last known good result). Tools without a cache never touch it.
- A degraded result (any fallback's, marked by `DEGRADED` in the fill's task) is never stored; with
  `fallback: {cached: true}` each stored result is also kept as the key's last known good one
  (cache/last_good.py), under the same epoch rule as the memory tier.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from webmcp.cache import metrics
from webmcp.cache.cache import Cache
from webmcp.cache.last_good import LastGood
from webmcp.cache.outcome import DEGRADED, OUTCOME
from webmcp.cache.remote import RemoteDown
from webmcp.call.context import InputRequired
from webmcp.config.templates import Template

if TYPE_CHECKING:
    from webmcp.call.context import Context


class Runner(Protocol):
    """The rest of a tool's call path after the cache (callpath/tool.Tool.run)."""

    def run(self, arguments: dict[str, Any], ctx: Context, label: str | None = None) -> Awaitable[dict[str, Any]]: ...

ASKED = "asked"  # a fill whose run asked its client a question

_sessions: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_session_ids = itertools.count(1)


def _session_token(ctx: Context) -> str:
    """A token per client session that is never reused (unlike id()), for `scope: session` keys."""
    session = ctx.session
    token = _sessions.get(session)
    if token is None:
        token = _sessions[session] = f"s{next(_session_ids)}"
    return token


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


class _Flight:
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[tuple[dict[str, Any], str]]) -> None:
        self.task = task
        self.waiters = 0


def _landed(flights: dict[str, _Flight], key: str, flight: _Flight, _task: Any) -> None:
    if flights.get(key) is flight:
        del flights[key]


class ToolCache:
    __slots__ = ("_errors", "_fields", "_hits", "_l1_ttl", "_last_good", "_misses", "_name", "_session", "_shared",
                 "_tags", "cache", "ttl")

    def __init__(self, name: str, cache: Cache, fields: tuple[str, ...] | None, ttl: float | None,
                 tags: tuple[Template, ...], scope: str, cache_errors: bool) -> None:
        self._name = name
        self.cache = cache
        self._fields = fields
        self.ttl = ttl
        self._l1_ttl = _min(ttl, cache.l1.spec.ttl) if cache.remote is not None and cache.l1 is not None else ttl
        self._tags = tags
        self._session = scope == "session"
        self._errors = cache_errors
        self._hits = metrics.HITS.labels(cache.name, "memory")
        self._misses = metrics.MISSES.labels(cache.name)
        self._shared = metrics.SHARED.labels(cache.name)
        self._last_good: LastGood | None = None

    def keep_last_good(self) -> None:
        """Keep each stored result as its key's last known good one (the tool's `fallback: {cached: true}`)."""
        self._last_good = self.cache.keep_last_good()

    def stale(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
        """The key's last known good result, marked stale (`_meta` and a closing text note), or None."""
        last_good = self._last_good
        remote = self.cache.remote
        if remote is not None and not remote.up:
            return None  # other instances' invalidations cannot reach us now: their change may be missed
        found = last_good.get(self.key(arguments, ctx)) if last_good is not None else None
        if found is None:
            return None
        result, age = found
        metrics.STALE.labels(self.cache.name).inc()
        DEGRADED.set("stale")
        meta = dict(result.get("_meta") or {})
        meta["webmcp/stale"] = True
        meta["webmcp/age_ms"] = int(age * 1000)
        note = {"type": "text", "text": f"[stale: this result is from {_age(age)} ago; the live source is failing]"}
        return {**result, "content": [*result.get("content", ()), note], "_meta": meta}

    def key(self, arguments: dict[str, Any], ctx: Context | None = None) -> str:
        """`<tool> <canonical JSON of the key arguments>` (+ ` @<session>` for scope: session)."""
        chosen = arguments if self._fields is None else {k: arguments[k] for k in self._fields if k in arguments}
        key = f"{self._name} {orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS).decode()}"
        return f"{key} @{_session_token(ctx)}" if self._session and ctx is not None else key

    def tags(self, arguments: dict[str, Any]) -> tuple[str, ...]:
        return tuple(t.render(arguments) for t in self._tags)

    async def call(self, tool: Runner, arguments: dict[str, Any], ctx: Context, label: str | None) -> dict[str, Any]:
        if ctx is not None and ((self._session and not ctx.session_keeps_state)
                                or (ctx.inputs is not None and ctx.inputs.carries_answers)):
            # scope: session without a session (stateless HTTP, 2026-07-28) has no entry; a retry carrying a
            # client's answers must run with them, never be answered with what others got
            OUTCOME.set("bypass")
            return await tool.run(arguments, ctx, label)
        key = self.key(arguments, ctx)
        cache = self.cache
        local = cache.local
        if local is not None:
            found = local.get(key)
            if found is not None:
                self._hits.inc()
                OUTCOME.set("hit")
                return found
        if cache.bypass:
            metrics.BYPASSES.labels(cache.name).inc()
            OUTCOME.set("bypass")
            return await tool.run(arguments, ctx, label)
        found_flight = cache.flights.get(key)
        leader = found_flight is None
        if found_flight is None:
            task = asyncio.get_running_loop().create_task(self._fill(tool, arguments, ctx, label, key))
            flight = cache.flights[key] = _Flight(task)
            task.add_done_callback(functools.partial(_landed, cache.flights, key, flight))
        else:
            flight = found_flight
            self._shared.inc()
        flight.waiters += 1
        try:
            result, outcome = await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            flight.waiters -= 1
            if flight.waiters == 0:
                if cache.flights.get(key) is flight:
                    del cache.flights[key]  # a new identical call starts afresh instead of joining a dying run
                flight.task.cancel()  # nobody wants the result any more
            raise
        except InputRequired:
            if leader:
                raise
            OUTCOME.set("miss")  # the run asked its own caller a question (2026-07-28): ask ours ourselves
            return await tool.run(arguments, ctx, label)
        if outcome == ASKED:
            OUTCOME.set("miss")
            if not leader:  # the result rests on the leader's client's answers: ours must be asked
                return await tool.run(arguments, ctx, label)
            return result
        OUTCOME.set(outcome if leader else "shared")
        return result

    async def _fill(self, tool: Runner, arguments: dict[str, Any], ctx: Context, label: str | None,
                    key: str) -> tuple[dict[str, Any], str]:
        cache = self.cache
        epoch = cache.epoch  # before any lookup: an invalidation from now on forbids storing in memory
        tags = self.tags(arguments)
        remote = cache.remote
        versions = None
        if remote is not None and remote.up:
            try:
                found, versions, size = await remote.get(key, tags)
            except RemoteDown:
                found = None
            if found is not None:
                if cache.epoch == epoch:
                    if cache.local is not None:
                        cache.local.put(key, found, size, tags, self._l1_ttl)
                    if self._last_good is not None and not found.get("isError"):
                        self._last_good.put(key, found, size, tags)
                metrics.HITS.labels(cache.name, "redis").inc()
                return found, "hit"
        self._misses.inc()
        DEGRADED.set(None)
        result = await tool.run(arguments, ctx, label)
        if ctx is not None and ctx.asked:
            return result, ASKED  # built from one client's answers: neither stored nor shared
        degraded = DEGRADED.get()
        if degraded is not None:
            return result, "stale" if degraded == "stale" else "miss"  # a fallback's answer is not the tool's
        if result.get("isError") and not self._errors:
            return result, "miss"
        payload = orjson.dumps(result)
        local = cache.local
        if cache.epoch == epoch:
            if local is not None:
                local.put(key, result, len(payload), tags, self._l1_ttl if local is cache.l1 else self.ttl)
            if self._last_good is not None and not result.get("isError"):
                self._last_good.put(key, result, len(payload), tags)
        if versions is not None and remote is not None and remote.up:
            entry = remote.encode(result, versions)
            if cache.write_back:
                remote.put_later(key, entry, self.ttl)
            else:
                with contextlib.suppress(RemoteDown):  # the result stands; Redis is marked down and probed
                    await remote.put(key, entry, self.ttl)
        return result, "miss"


def _age(seconds: float) -> str:
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


class Invalidator:
    """`invalidates:` of a mutating tool: after a successful call, drop the rendered tags everywhere."""

    __slots__ = ("_caches", "_tags")

    def __init__(self, caches: CacheSet, tags: tuple[Template, ...]) -> None:
        self._caches = caches
        self._tags = tags

    async def call(self, tool: Runner, arguments: dict[str, Any], ctx: Context, label: str | None) -> dict[str, Any]:
        result = await tool.run(arguments, ctx, label)
        if not result.get("isError"):
            # The change is made: its invalidation must complete even if this call is cancelled now.
            tags = tuple(t.render(arguments) for t in self._tags)
            await asyncio.shield(asyncio.ensure_future(self._caches.invalidate(tags=tags)))
        return result


class CacheSet:
    """The caches of one Graph, by name (inline caches by their tool's name); graph/caches.py opens them."""

    def __init__(self) -> None:
        self.caches: dict[str, Cache] = {}

    async def invalidate(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = (), everything: bool = False,
                         only: str | None = None) -> int:
        """Invalidate in every cache (or the one named `only`); entries dropped from memory here."""
        chosen = [self.caches[only]] if only is not None else list(self.caches.values())
        counts = await asyncio.gather(*(c.invalidate(tags, keys, everything) for c in chosen))
        return sum(counts)
