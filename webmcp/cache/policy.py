"""How a tool uses caches: the cached call path, invalidation after a mutating call, and the set of
caches of one Graph.

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
import contextvars
import functools
import itertools
import weakref
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.cache import metrics
from webmcp.cache.cache import Cache
from webmcp.cache.last_good import LastGood
from webmcp.cache.remote import RemoteDown
from webmcp.cache.spec import CacheSpec
from webmcp.kinds.tools.templates import Template, TemplateSyntaxError
from webmcp.protocol.input_required import InputRequired

if TYPE_CHECKING:
    from webmcp.errors import Problem
    from webmcp.graph.build import BuildContext
    from webmcp.kinds.tools.base import Tool, ToolSpec
    from webmcp.protocol.context import Context

OUTCOME: contextvars.ContextVar[str | None] = contextvars.ContextVar("webmcp_cache_outcome", default=None)
ASKED = "asked"  # a fill whose run asked its client a question
# Set by a tool's guard (upstreams/guard.py) when it answered with a fallback: "stale" or "fallback".
DEGRADED: contextvars.ContextVar[str | None] = contextvars.ContextVar("webmcp_degraded", default=None)

_sessions: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_session_ids = itertools.count(1)


def _session_token(ctx: Context) -> str:
    """A token per client session that is never reused (unlike id()), for `scope: session` keys."""
    session = getattr(ctx, "_session", None)
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

    async def call(self, tool: Tool, arguments: dict[str, Any], ctx: Context, label: str | None) -> dict[str, Any]:
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

    async def _fill(self, tool: Tool, arguments: dict[str, Any], ctx: Context, label: str | None,
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

    async def call(self, tool: Tool, arguments: dict[str, Any], ctx: Context, label: str | None) -> dict[str, Any]:
        result = await tool.run(arguments, ctx, label)
        if not result.get("isError"):
            # The change is made: its invalidation must complete even if this call is cancelled now.
            tags = tuple(t.render(arguments) for t in self._tags)
            await asyncio.shield(asyncio.ensure_future(self._caches.invalidate(tags=tags)))
        return result


class CacheSet:
    """The caches of one Graph, by name (inline caches by their tool's name)."""

    def __init__(self, ctx: BuildContext) -> None:
        self._ctx = ctx
        self.caches: dict[str, Cache] = {}

    async def open(self) -> list[Problem]:
        """Open every named cache; the problems of those that could not be opened."""
        from webmcp.graph.build import BuildFailure

        problems = []
        for name, spec in self._ctx.spec.caches.items():
            if not spec.is_off:
                try:
                    self.caches[name] = await self._open(spec)
                except BuildFailure as exc:
                    problems.append(exc.problem)
        return problems

    async def _open(self, spec: CacheSpec) -> Cache:
        ctx = self._ctx
        if spec.backend == "memory":
            memory: Cache = ctx._shared(("cache", *spec.settings), lambda: Cache(spec), lambda c: c.close())
            return memory
        from webmcp.kinds.pools.redis import client, subscriber

        assert spec.pool is not None
        pool = ctx.spec.pools[spec.pool]
        redis = client(ctx, pool)
        key = ("cache", *spec.settings, pool.settings)
        fresh = key not in ctx.shared and key not in ctx.previous
        cache: Cache = ctx._shared(key, lambda: Cache(spec, redis, subscriber(pool)), lambda c: c.close())
        await cache.start(wait=pool.connect_timeout)
        if fresh and pool.required and cache.remote is not None and not cache.remote.up:
            # A new pool that never answered is a wrong URL or a Redis not started: refuse the config (a
            # reload keeps the old graph). Once running, an outage only degrades the cache.
            raise ctx.fail(pool.where, f"cannot reach Redis at {pool.address} within connect_timeout "
                           f"({pool.connect_timeout:g}s)", hint="start Redis or fix the URL; with required: "
                           "false the server starts without it and its caches fall back until it answers")
        return cache

    async def attach(self, tool: Tool, spec: ToolSpec) -> None:
        """Give `tool` its cache or its invalidations; BuildFailure for a bad key, tag or combination."""
        ctx = self._ctx
        fields = set((tool.input_schema.get("properties") or {}).keys())

        def templates(texts: tuple[str, ...], where: Any, what: str) -> tuple[Template, ...]:
            out = []
            for text in texts:
                try:
                    template = Template.parse(text)
                except TemplateSyntaxError as exc:
                    raise ctx.fail(where, f"{what}: {exc}") from None
                unknown = [n for n in template.names if n not in fields]
                if unknown:
                    raise ctx.fail(where, f"{what} {text!r} uses {{{unknown[0]}}}, which is not an argument of "
                                   "the tool",
                                   hint=f"arguments: {', '.join(sorted(fields)) or 'none'}")
                out.append(template)
            return tuple(out)

        use = spec.cache
        if use is not None and spec.invalidates:
            raise ctx.fail(use.where, "a tool cannot both be cached and invalidate",
                           hint="cache the reading tools; give the mutating one invalidates:")
        if spec.invalidates:
            tool.use_cache(Invalidator(self, templates(spec.invalidates, spec.where, "invalidates tag")))
            return
        if use is None:
            return
        cache_spec = ctx.spec.caches[use.use] if use.use is not None else use.inline
        assert cache_spec is not None
        if cache_spec.is_off:
            return  # strategy: none caches nothing, and costs nothing
        if use.key is not None:
            unknown = [k for k in use.key if k not in fields]
            if unknown:
                raise ctx.fail(use.where, f"cache key {unknown[0]!r} is not an argument of the tool",
                               hint=f"arguments: {', '.join(sorted(fields)) or 'none'}")
        tags = templates(use.tags, use.where, "cache tag")
        if use.use is not None:
            if use.use not in self.caches:
                return  # it could not be opened; that problem is reported already
            cache = self.caches[use.use]
        else:
            cache = self.caches[tool.name] = await self._open(cache_spec)
        ttl = use.ttl if use.ttl is not None else cache_spec.ttl
        errors = use.cache_errors if use.cache_errors is not None else cache_spec.cache_errors
        tool.use_cache(ToolCache(tool.name, cache, use.key, ttl, tags, use.scope, errors))

    async def invalidate(self, tags: tuple[str, ...] = (), keys: tuple[str, ...] = (), everything: bool = False,
                         only: str | None = None) -> int:
        """Invalidate in every cache (or the one named `only`); entries dropped from memory here."""
        chosen = [self.caches[only]] if only is not None else list(self.caches.values())
        counts = await asyncio.gather(*(c.invalidate(tags, keys, everything) for c in chosen))
        return sum(counts)
