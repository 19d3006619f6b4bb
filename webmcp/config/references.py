"""Reading `pools:`, `breakers:` and `upstreams:`, and the one place that checks every name referring to
another entry: pools, breakers, upstreams, caches, fallback and variant tools, priority classes. Each
problem is located at the key that names the missing entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webmcp.config.caches import CacheSpec
from webmcp.config.marked_yaml import Path, dotted
from webmcp.config.models import ModelSpec
from webmcp.config.spec import MasterToolSpec, SessionsSpec, SpecContext
from webmcp.config.tools import ToolSpec
from webmcp.config.upstreams import BreakerSpec
from webmcp.config.validate import show, suggest


def upstream_sections(merged: Mapping[str, Any], ctx: SpecContext) -> dict[str, Any]:
    from webmcp.config.registry import kind

    def read(section: str) -> dict[str, Any]:
        return {name: kind(section, node["kind"]).spec_type.from_config(name, node, (section, name), ctx)
                for name, node in (merged.get(section) or {}).items()}

    breakers = {name: BreakerSpec.from_config(name, node, ("breakers", name), ctx)
                for name, node in (merged.get("breakers") or {}).items()}
    return {"pools": read("pools"), "breakers": breakers, "upstreams": read("upstreams")}


def _refer(ctx: SpecContext, path: Path, name: str, section: str, known: Mapping[str, Any],
           kind: str | None = None) -> None:
    if name not in known:
        hint = suggest(name, known) or f"{section}: has {', '.join(sorted(known)) or 'nothing'}"
        ctx.problem(path, f"no such entry in {section}:", show(name), hint)
    elif kind is not None and getattr(known[name], "kind", kind) != kind:
        ctx.problem(path, f"{section} entry {name!r} is of kind {known[name].kind}, not {kind}", show(name))


def check_session_pool(sessions: SessionsSpec, pools: Mapping[str, Any], ctx: SpecContext) -> None:
    """server.http.sessions: a redis backend names a redis pool; a memory one names none."""
    path = ("server", "http", "sessions")
    if sessions.backend == "redis" and sessions.pool is None:
        ctx.problem((*path, "backend"), "redis session records need a pool", show("redis"),
                    "add pool: NAME of a kind: redis entry of pools:")
    elif sessions.backend == "redis" and sessions.pool is not None:
        _refer(ctx, (*path, "pool"), sessions.pool, "pools", pools, "redis")
    elif sessions.pool is not None:
        ctx.problem((*path, "pool"), "only backend: redis keeps session records in a pool", show(sessions.pool),
                    "set backend: redis, or remove pool")


def check_redis_pool(path: Path, name: str, pools: Mapping[str, Any], ctx: SpecContext) -> None:
    """A key outside pools: that names a Redis pool (`executor.rate_limits.pool`)."""
    _refer(ctx, path, name, "pools", pools, "redis")


def check_references(tools: Mapping[str, ToolSpec], masters: Mapping[str, MasterToolSpec],
                     sections: Mapping[str, Any], caches: Mapping[str, CacheSpec], models: Mapping[str, ModelSpec],
                     classes: Sequence[str],
                     shed: Sequence[str], ctx: SpecContext) -> None:
    """Every reference of the config, checked: all problems are collected in `ctx`."""
    paths = _entry_paths(tools, masters)
    for master in masters.values():
        for op, name in master.operations.items():
            if name not in tools:
                hint = suggest(name, tools) or f"declared tools: {', '.join(sorted(tools)) or 'none'}"
                ctx.problem(("master_tools", master.name, "operations", op), "no such tool in tools:", show(name), hint)
    _check_sections(tools, paths, sections, ctx)
    for name, tool in tools.items():
        if getattr(tool, "model", None) is not None:
            _refer(ctx, (*paths[name], "model"), tool.model, "models", models)  # type: ignore[attr-defined]
    _check_caches(tools, caches, sections["pools"], ctx)
    _check_priorities(tools, paths, classes, shed, ctx)


def _entry_paths(tools: Mapping[str, ToolSpec], masters: Mapping[str, MasterToolSpec]) -> dict[str, Path]:
    """Where each tool entry is written: `tools.NAME`, or a master tool's inline operation."""
    paths: dict[str, Path] = {name: ("tools", name) for name in tools}
    for master in masters.values():
        for op, name in master.operations.items():
            inline: Path = ("master_tools", master.name, "operations", op)
            if name in tools and tools[name].where.path == dotted(inline):  # not a name from tools:
                paths[name] = inline
    return paths


def _check_sections(tools: Mapping[str, ToolSpec], paths: Mapping[str, Path], sections: Mapping[str, Any],
                    ctx: SpecContext) -> None:
    pools, breakers, upstreams = sections["pools"], sections["breakers"], sections["upstreams"]
    for name, up in upstreams.items():
        if getattr(up, "pool", None) is not None:
            _refer(ctx, ("upstreams", name, "pool"), up.pool, "pools", pools, "http")
        if up.balancing.breaker is not None:
            _refer(ctx, ("upstreams", name, "breaker"), up.balancing.breaker, "breakers", breakers)
    for name, tool in tools.items():
        path = paths[name]
        if getattr(tool, "upstream", None) is not None:
            _refer(ctx, (*path, "upstream"), tool.upstream, "upstreams", upstreams, tool.kind)  # type: ignore[attr-defined]
        if getattr(tool, "pool", None) is not None:
            _refer(ctx, (*path, "pool"), tool.pool, "pools", pools, "http")  # type: ignore[attr-defined]
        if tool.breaker is not None:
            _refer(ctx, (*path, "breaker"), tool.breaker, "breakers", breakers)
        if tool.fallback is not None and tool.fallback.tool is not None:
            _refer(ctx, (*path, "fallback", "tool"), tool.fallback.tool, "tools", tools)
            _check_cycle(name, tools, ctx, path)
        if tool.fallback is not None and tool.fallback.cached and tool.cache is None:
            ctx.problem((*path, "fallback", "cached"), "a cached fallback serves the tool's last cached result, "
                        "and this tool has no cache", hint="add cache: NAME (or an inline cache: mapping)")
        if tool.split is not None:
            _check_split(name, tool, tools, upstreams, ctx, (*path, "split"))


def _check_split(name: str, tool: ToolSpec, tools: Mapping[str, ToolSpec], upstreams: Mapping[str, Any],
                 ctx: SpecContext, path: Path) -> None:
    split = tool.split
    assert split is not None
    if split.tool is not None:
        if split.tool == name:
            ctx.problem((*path, "tool"), "a tool cannot be its own variant", show(name))
        elif split.tool in tools and tools[split.tool].split is not None:
            ctx.problem((*path, "tool"), f"the variant {split.tool!r} has a split of its own", show(split.tool),
                        "a variant serves calls as they are; remove its split:")
        else:
            _refer(ctx, (*path, "tool"), split.tool, "tools", tools)
        return
    assert split.upstream is not None
    own = getattr(tool, "upstream", None)
    if own is None:
        ctx.problem((*path, "upstream"), "a variant upstream replaces the tool's upstream, and this tool has none",
                    show(split.upstream), "give the tool upstream: NAME, or split to a variant tool: {tool: NAME}")
    elif split.upstream == own:
        ctx.problem((*path, "upstream"), "the variant is the tool's own upstream", show(own))
    else:
        _refer(ctx, (*path, "upstream"), split.upstream, "upstreams", upstreams, tool.kind)


def _check_cycle(start: str, tools: Mapping[str, ToolSpec], ctx: SpecContext, path: Path) -> None:
    seen = [start]
    current = tools[start]
    while current.fallback is not None and current.fallback.tool is not None and current.fallback.tool in tools:
        target = current.fallback.tool
        if target == start:
            ctx.problem((*path, "fallback", "tool"), "fallbacks go round in a circle", " -> ".join([*seen, start]),
                        "end the chain with a tool without fallback, or a fallback message")
            return
        if target in seen:
            return  # a circle that does not pass through `start`; reported for its own members
        seen.append(target)
        current = tools[target]


def _check_caches(tools: Mapping[str, ToolSpec], caches: Mapping[str, CacheSpec], pools: Mapping[str, Any],
                  ctx: SpecContext) -> None:
    """Names used by tools and caches exist: every unknown one is a problem with a suggestion."""
    for tool in tools.values():
        use = tool.cache
        if use is not None and use.use is not None and use.use not in caches:
            hint = suggest(use.use, caches) or f"caches: has {', '.join(sorted(caches)) or 'no entries'}"
            ctx.problems.append(use.where.problem("no such cache in caches:", show(use.use), hint))
    specs = list(caches.values()) + [t.cache.inline for t in tools.values() if t.cache and t.cache.inline]
    for spec in specs:
        if spec.backend == "redis" and spec.pool is not None and spec.pool not in pools:
            hint = suggest(spec.pool, pools) or f"pools: has {', '.join(sorted(pools)) or 'no entries'}"
            ctx.problems.append(spec.where.problem("no such pool in pools:", show(spec.pool), hint))
        elif spec.backend == "redis" and spec.pool is not None and pools[spec.pool].kind != "redis":
            ctx.problems.append(spec.where.problem(f"pools entry {spec.pool!r} is of kind {pools[spec.pool].kind}, "
                                                   "not redis", show(spec.pool)))


def _check_priorities(tools: Mapping[str, ToolSpec], paths: Mapping[str, Path], classes: Sequence[str],
                      shed: Sequence[str], ctx: SpecContext) -> None:
    """Every class a tool's `priority:` (default normal) or `scaling.shed` (as written) names is one of
    executor.priorities."""
    hint = f"executor.priorities has: {', '.join(classes)}"
    for name, tool in tools.items():
        if tool.priority not in classes:
            ctx.problem((*paths[name], "priority"), "unknown priority class", show(tool.priority), hint)
    for i, cls in enumerate(shed):
        if cls not in classes:
            ctx.problem(("scaling", "shed", i), "unknown priority class", show(cls), hint)
