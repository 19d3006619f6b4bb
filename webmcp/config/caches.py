"""Specs of caches (`caches:` entries, inline `cache:` mappings) and of a tool's use of one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from webmcp.config.marked_yaml import Path
from webmcp.config.spec import SpecContext, Where
from webmcp.config.units import parse_duration, parse_size
from webmcp.config.validate import show

Strategy = Literal["lru", "lfu", "ttl", "none"]
DEFAULT_MAX_ENTRIES = 1000
_USE_ONLY = ("use", "key", "tags", "ttl", "scope", "cache_errors")  # what may sit beside `use:`


@dataclass(frozen=True, slots=True)
class MemorySpec:
    """An in-memory store (a memory cache, or the l1 tier of a redis one)."""

    strategy: Strategy
    max_entries: int | None
    max_bytes: int | None
    ttl: float | None

    @classmethod
    def from_config(cls, node: Mapping[str, Any], default_strategy: Strategy = "lru") -> MemorySpec:
        max_entries = node.get("max_entries")
        max_bytes = parse_size(node["max_bytes"]) if "max_bytes" in node else None
        if max_entries is None and max_bytes is None:
            max_entries = DEFAULT_MAX_ENTRIES
        return cls(node.get("strategy", default_strategy), max_entries, max_bytes,
                   parse_duration(node["ttl"]) if "ttl" in node else None)


@dataclass(frozen=True, slots=True)
class CacheSpec:
    name: str  # the caches: entry, or the tool's name for an inline cache (metrics label, default prefix)
    backend: Literal["memory", "redis"]
    strategy: Strategy
    memory: MemorySpec | None  # memory: the store; redis: the l1 tier, if any
    ttl: float | None
    pool: str | None
    prefix: str
    write: Literal["through", "back"]
    fallback: Literal["memory", "none"]
    cache_errors: bool
    where: Where = field(compare=False)

    @property
    def is_off(self) -> bool:
        return self.strategy == "none"

    @property
    def settings(self) -> tuple[Any, ...]:
        """What identifies the runtime cache: an unchanged one keeps its contents across a reload."""
        return (self.name, self.backend, self.strategy, self.memory, self.ttl, self.pool, self.prefix, self.write,
                self.fallback)

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> CacheSpec:
        backend = node.get("backend", "memory")
        ttl = parse_duration(node["ttl"]) if "ttl" in node else None
        memory: MemorySpec | None
        if backend == "memory":
            memory = MemorySpec.from_config(node)
            for key in ("pool", "prefix", "l1", "write", "fallback"):
                if key in node:
                    ctx.problem((*path, key), "only a redis cache has this setting", hint="set backend: redis")
            if memory.strategy == "ttl" and ttl is None:
                ctx.problem(path, "strategy ttl needs a ttl", hint="add ttl: 5m, or use strategy lru or lfu")
        else:
            memory = MemorySpec.from_config(node["l1"]) if "l1" in node else None
            strategy = node.get("strategy", "ttl")
            if strategy in ("lru", "lfu"):
                ctx.problem((*path, "strategy"), "a redis cache evicts by the Redis server's maxmemory-policy",
                            show(strategy), "use strategy: ttl here, and lru/lfu on the l1 tier")
            for key in ("max_entries", "max_bytes"):
                if key in node:
                    ctx.problem((*path, key), "Redis bounds its own size (maxmemory)", show(node[key]),
                                "bound the l1 tier instead: l1: {max_entries: ...}")
            if "pool" not in node:
                ctx.problem(path, "a redis cache needs a pool", hint="add pool: NAME of a kind: redis entry of pools:")
        return cls(
            name=name,
            backend=backend,
            strategy=node.get("strategy", "lru" if backend == "memory" else "ttl"),
            memory=memory,
            ttl=ttl,
            pool=node.get("pool"),
            prefix=node.get("prefix", f"webmcp:{name}"),
            write=node.get("write", "through"),
            fallback=node.get("fallback", "memory"),
            cache_errors=node.get("cache_errors", False),
            where=ctx.where(path),
        )


@dataclass(frozen=True, slots=True)
class CacheUseSpec:
    """A tool's `cache:`: which cache, and the tool's own key, ttl, tags and scope."""

    use: str | None  # an entry of caches:, or None for the tool's own (inline) cache
    inline: CacheSpec | None
    key: tuple[str, ...] | None  # None: every argument
    ttl: float | None  # the tool's override of the cache's ttl
    tags: tuple[str, ...]
    scope: Literal["shared", "session"]
    cache_errors: bool | None
    where: Where = field(compare=False)

    @classmethod
    def from_config(cls, tool: str, node: Any, path: Path, ctx: SpecContext) -> CacheUseSpec:
        if isinstance(node, str):
            node = {"use": node}
        if "use" in node:
            for key in node:
                if key not in _USE_ONLY:
                    ctx.problem((*path, key), "a cache from caches: is configured there, not on the tool",
                                hint=f"beside use:, a tool may set {', '.join(_USE_ONLY[1:])}")
            inline = None
        else:
            settings = {k: v for k, v in node.items() if k not in ("key", "tags", "scope")}
            inline = CacheSpec.from_config(tool, settings, path, ctx)
        return cls(
            use=node.get("use"),
            inline=inline,
            key=tuple(node["key"]) if "key" in node else None,
            ttl=parse_duration(node["ttl"]) if "ttl" in node and "use" in node else None,
            tags=tuple(node.get("tags", ())),
            scope=node.get("scope", "shared"),
            cache_errors=node.get("cache_errors") if "use" in node else None,
            where=ctx.where(path),
        )


def cache_specs(nodes: Mapping[str, Any], ctx: SpecContext) -> dict[str, CacheSpec]:
    return {name: CacheSpec.from_config(name, node, ("caches", name), ctx) for name, node in nodes.items()}
