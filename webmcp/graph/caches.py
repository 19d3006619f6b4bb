"""Opening the caches of a Graph (`caches:` and inline `cache:` blocks) and giving each tool its cache or
its invalidations. A cache is a shared component keyed by its settings (and its Redis pool's), so an
unchanged cache keeps its entries and its Redis subscription across reloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webmcp.config.templates import Template, TemplateSyntaxError
from webmcp.errors import BuildFailure, Problem

if TYPE_CHECKING:
    from webmcp.cache.cache import Cache
    from webmcp.cache.policy import CacheSet
    from webmcp.callpath.tool import Tool
    from webmcp.config.caches import CacheSpec
    from webmcp.config.spec import ConfigSpec
    from webmcp.config.tools import ToolSpec
    from webmcp.graph.context import GraphContext


def uses_caches(spec: ConfigSpec) -> bool:
    """Does anything in the config cache or invalidate? If not, no cache module is imported."""
    return bool(spec.caches) or any(t.cache is not None or t.invalidates for t in spec.tools.values())


async def open_caches(ctx: GraphContext) -> tuple[CacheSet, list[Problem]]:
    """Every named cache opened; the problems of those that could not be."""
    from webmcp.cache.policy import CacheSet

    caches = CacheSet()
    problems = []
    for name, spec in ctx.spec.caches.items():
        if not spec.is_off:
            try:
                cache = await _open(spec, ctx)
            except BuildFailure as exc:
                problems.append(exc.problem)
                continue
            if cache is not None:
                caches.caches[name] = cache
    return caches, problems


async def _open(spec: CacheSpec, ctx: GraphContext) -> Cache | None:
    """The cache; None for a Redis cache when the build does not connect."""
    from webmcp.cache.cache import Cache

    if spec.backend == "memory":
        memory: Cache = ctx.share(("cache", *spec.settings), lambda: Cache(spec), lambda c: c.close())
        return memory
    from webmcp.kinds.pools.redis import subscriber

    assert spec.pool is not None
    pool = ctx.spec.pools[spec.pool]
    if not ctx.connects:
        # Only a required pool is checked at start: one that is not may be down, and its caches fall back.
        if pool.required:
            note = pool.where.problem(f"Redis at {pool.address} not reached: a required pool must answer at start")
            if note not in ctx.unreached_pools:  # one pool, several caches
                ctx.unreached_pools.append(note)
        return None
    redis = await ctx.redis(spec.pool)
    key = ("cache", *spec.settings, pool.settings)
    fresh = ctx.is_new(key)
    cache: Cache = ctx.share(key, lambda: Cache(spec, redis, subscriber(pool)), lambda c: c.close())
    await cache.start(wait=pool.connect_timeout)
    if fresh and pool.required and cache.remote is not None and not cache.remote.up:
        # A new pool that never answered is a wrong URL or a Redis not started: refuse the config (a
        # reload keeps the old graph). Once running, an outage only degrades the cache.
        raise ctx.fail(pool.where, f"cannot reach Redis at {pool.address} within connect_timeout "
                       f"({pool.connect_timeout:g}s)", hint="start Redis or fix the URL; with required: "
                       "false the server starts without it and its caches fall back until it answers")
    return cache


async def use_caches(caches: CacheSet, tool: Tool, spec: ToolSpec, ctx: GraphContext) -> None:
    """Give `tool` its cache or its invalidations; BuildFailure for a bad key, tag or combination."""
    from webmcp.cache.policy import Invalidator, ToolCache

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
        tool.use_cache(Invalidator(caches, templates(spec.invalidates, spec.where, "invalidates tag")))
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
        if use.use not in caches.caches:
            return  # it could not be opened (that problem is reported already), or the build does not connect
        cache = caches.caches[use.use]
    else:
        opened = await _open(cache_spec, ctx)
        if opened is None:
            return
        cache = caches.caches[tool.name] = opened
    ttl = use.ttl if use.ttl is not None else cache_spec.ttl
    errors = use.cache_errors if use.cache_errors is not None else cache_spec.cache_errors
    tool.use_cache(ToolCache(tool.name, cache, use.key, ttl, tags, use.scope, errors))
