"""Wiring the optional stages of tools once every tool is built: A/B splits (callpath/split.py) and
breakers with fallbacks (callpath/guard.py). A tool with neither keeps its backend unwrapped."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from webmcp.callpath.guard import Guarded
from webmcp.callpath.split import Arm, Split, ToolVariant
from webmcp.callpath.tool import Backend, Tool
from webmcp.config.registry import kind
from webmcp.config.spec import ConfigSpec
from webmcp.config.tools import ToolSpec
from webmcp.config.upstreams import BreakerSpec, SplitSpec
from webmcp.errors import BuildFailure, Problem
from webmcp.graph.context import GraphContext
from webmcp.upstreams.breaker import Breaker
from webmcp.upstreams.upstream import breaker_gauge


def _incompatible(tool: Tool, variant: Tool) -> str | None:
    """Why `variant` cannot take every valid call of `tool`, or None (names only; the types are checked
    per call by the variant's own compiled schema)."""
    mine, theirs = tool.input_schema, variant.input_schema
    required = set(mine.get("required") or ())
    for name in theirs.get("required") or ():
        if name not in required:
            return f"the variant tool {variant.name!r} requires the argument {name!r}, which {tool.name!r} does not"
    if theirs.get("additionalProperties") is False:
        known = set(theirs.get("properties") or {})
        for name in mine.get("properties") or {}:
            if name not in known:
                return f"the variant tool {variant.name!r} does not accept the argument {name!r} of {tool.name!r}"
    return None


async def split_tools(tools: Mapping[str, Tool], owners: Mapping[str, ToolSpec], ctx: GraphContext) -> list[Problem]:
    """Wrap the backend of every tool that declares `split:`; the problems of those that cannot be split."""
    problems: list[Problem] = []
    variants: dict[str, Any] = {}  # entry name -> its tools built through the variant upstream (import: many)
    for name, tool in tools.items():
        tspec = owners[name]
        split = tspec.split
        if split is None:
            continue
        assert split.where is not None
        fields = set(tool.input_schema.get("properties") or {})
        unknown = [n for n in split.sticky_on if n not in fields]
        if unknown:
            problems.append(split.where.problem(f"sticky_on names {unknown[0]!r}, which is not an argument of the "
                                                "tool", hint=f"arguments: {', '.join(sorted(fields)) or 'none'}"))
            continue
        backend: Backend
        if split.tool is not None:
            other = tools.get(split.tool)
            if other is None:
                continue  # it failed to build; that problem is reported already
            why = _incompatible(tool, other)
            if why is not None:
                problems.append(split.where.problem(why, hint="a variant must accept every call of the tool"))
                continue
            backend, target = ToolVariant(other), split.tool
        else:
            if tspec.name not in variants:
                try:
                    variants[tspec.name] = await kind("tools", tspec.kind).build(
                        dataclasses.replace(tspec, upstream=split.upstream), ctx)  # type: ignore[call-arg]
                except BuildFailure as exc:
                    problems.append(exc.problem)
                    variants[tspec.name] = None
            built = variants[tspec.name]
            twin = built.get(name) if isinstance(built, dict) else built
            if twin is None:
                if built is not None:
                    problems.append(split.where.problem(f"the variant upstream {split.upstream!r} has no tool for "
                                                        f"{name!r}", hint="a variant upstream serves the same tools"))
                continue
            backend, target = ToolVariant(twin), f"upstream {split.upstream}"
        own = getattr(tspec, "upstream", None)
        variant = Arm(name, "variant", target, backend)

        def wrap(primary: Backend, s: SplitSpec = split, n: str = name, t: str = f"upstream {own}" if own else name,
                 v: Arm = variant) -> Backend:
            return Split(s, Arm(n, "primary", t, primary), v)

        tool.guard(wrap)
    return problems


def guard_tools(spec: ConfigSpec, tools: Mapping[str, Tool], owners: Mapping[str, ToolSpec],
                ctx: GraphContext) -> list[Problem]:
    """Wrap every built tool that declares `breaker:` or `fallback:`. A tool's breaker keeps its state
    across reloads that change neither the tool's name nor the policy."""
    guards: list[Guarded] = []
    problems: list[Problem] = []
    for name, tool in tools.items():
        tspec = owners[name]
        if tspec.breaker is None and tspec.fallback is None:
            continue
        breaker = None
        if tspec.breaker is not None:
            policy = spec.breakers[tspec.breaker]

            def make(p: BreakerSpec = policy, n: str = name) -> Breaker:
                return Breaker(p, f"tool {n!r}", breaker_gauge("tool", n, ""))

            breaker = ctx.share((f"breaker tool {name}", policy), make, lambda _b: None)

        def wrap(backend: Backend, n: str = name, b: Breaker | None = breaker) -> Backend:
            guarded = Guarded(n, backend, b, owners[n].fallback)
            guards.append(guarded)
            return guarded

        tool.guard(wrap)
    for guarded in guards:
        fallback = guarded.fallback
        if fallback is not None and fallback.tool is not None:
            guarded.fallback_tool = tools.get(fallback.tool)
        if fallback is not None and fallback.cached:
            from webmcp.cache.policy import ToolCache

            caching = tools[guarded.name].caching
            if isinstance(caching, ToolCache):
                caching.keep_last_good()
                guarded.cached = caching
            elif _stores_nothing(spec, owners[guarded.name]):
                where = owners[guarded.name].where
                problems.append(where.problem("fallback: {cached: true} needs a cache that stores results",
                                              hint="give the tool a cache whose strategy is not none"))
    return problems


def _stores_nothing(spec: ConfigSpec, tspec: ToolSpec) -> bool:
    """Is the tool's cache one with strategy: none? (A cache that could not be opened, or a Redis cache of a
    build that does not connect, also leaves the tool without one; that is no fault of the fallback.)"""
    use = tspec.cache
    if use is None:
        return False  # config/references.py reports a cached fallback without a cache
    cache = spec.caches.get(use.use) if use.use is not None else use.inline
    return cache is not None and cache.is_off
