"""Build a Graph from a ConfigSpec, all or nothing.

Shared components (worker threads, the HTTP session) are created on first use and entered into one
AsyncExitStack; if any tool fails to build, every problem is collected, the stack unwinds what was
built, and a BuildError lists them all.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import orjson

import webmcp.kinds.imports  # noqa: F401  (declares every kind; each loads when a config first names it)
from webmcp.callpath import header_marks
from webmcp.callpath.tool import Tool
from webmcp.catalog.prompts import build as build_prompts
from webmcp.catalog.resources import build as build_resources
from webmcp.config.interpolate import conceal
from webmcp.config.master import is_listed
from webmcp.config.registry import kind
from webmcp.config.spec import ConfigSpec
from webmcp.config.tools import ToolSpec
from webmcp.errors import BuildError, BuildFailure, ConfigError, Problem
from webmcp.graph.caches import open_caches, use_caches, uses_caches
from webmcp.graph.context import GraphContext
from webmcp.graph.deprecation import annotate
from webmcp.graph.graph import Graph, Unchecked, close_stack
from webmcp.graph.master import MasterTool, conflicts
from webmcp.graph.stages import guard_tools, split_tools
from webmcp.graph.toolsets import build_views

log = logging.getLogger(__name__)


def _not_json(definition: dict[str, Any]) -> str | None:
    try:
        orjson.dumps(definition)
    except TypeError as exc:
        return f"the tool's definition is not JSON ({exc}); check defaults in the function's signature"
    return None


async def build(spec: ConfigSpec, generation: int = 1, previous: Graph | None = None, *,
                connect: bool = True) -> Graph:
    """Build a Graph; with `previous` (a reload), components whose settings did not change are kept.

    Without `connect` (a static check: such a Graph is never served, nor the `previous` of another build), no
    upstream MCP server is started and nothing is reached over the network: what only they can tell is left
    unchecked, and listed in `Graph.unchecked`."""
    stack = AsyncExitStack()
    ctx = GraphContext(spec, stack, previous.shared if previous is not None else None, connect)
    try:
        tools: dict[str, Tool] = {}
        owners: dict[str, ToolSpec] = {}  # tool name -> the entry it was built from (one entry may import many)
        problems: list[Problem] = []
        caches = None
        if uses_caches(spec):
            caches, cache_problems = await open_caches(ctx)
            problems.extend(cache_problems)
        ctx.memory_guard()  # sampled (and reported) even when no tool's class is shed
        try:
            await ctx.check_rate_limit_store()
        except BuildFailure as exc:
            problems.append(exc.problem)
        for i, (name, tspec) in enumerate(spec.tools.items()):
            if i % 8 == 7:
                await asyncio.sleep(0)  # a reload builds while serving: let waiting calls run between tools
            try:
                built = await kind("tools", tspec.kind).build(tspec, ctx)
                for tool in built.values() if isinstance(built, dict) else [built]:
                    if caches is not None:
                        await use_caches(caches, tool, tspec, ctx)
            except BuildFailure as exc:
                problems.append(exc.problem)
                continue
            for tool in built.values() if isinstance(built, dict) else [built]:
                if tool.name in owners or (tool.name != name and tool.name in spec.tools):
                    problems.append(tspec.where.problem(f"imports tool {tool.name!r}, which is declared already",
                                                        hint="set import.prefix or import.deny"))
                    continue
                bad_schema = (tool.check_schema() or _not_json(tool.definition)
                              or header_marks.problem(tool.input_schema))
                if bad_schema:
                    problems.append(tspec.where.problem(bad_schema))
                tool.admit_through(ctx.admission())
                gate = ctx.gate(tspec)
                if gate is not None:
                    tool.gate_through(gate)
                watch = ctx.watch(tspec, generation, tool.name)
                if watch is not None:
                    tool.watch_with(watch)
                tools[tool.name] = tool
                owners[tool.name] = tspec
        problems.extend(await split_tools(tools, owners, ctx))
        problems.extend(guard_tools(spec, tools, owners, ctx))
        for tool in tools.values():
            annotate(tool, owners[tool.name])  # before master tools read the definitions
        masters: dict[str, MasterTool] = {}
        for name, mspec in spec.master_tools.items():
            ops = {op: tools[t] for op, t in mspec.operations.items() if t in tools}
            if len(ops) < len(mspec.operations):
                continue  # an operation's tool failed to build; that problem is reported already
            for op in conflicts(ops):
                problems.append(mspec.where.problem(f"operation {op!r} has its own argument named 'operation', "
                                                    "which the master tool uses to pick the operation",
                                                    hint="rename that argument"))
            masters[name] = MasterTool(mspec, ops)
        resources = prompts = None
        try:
            resources = await build_resources(spec.resources, ctx)
        except BuildFailure as exc:
            problems.append(exc.problem)
        try:
            prompts = await build_prompts(spec.prompts, ctx)
        except BuildFailure as exc:
            problems.append(exc.problem)
        listed: dict[str, Tool | MasterTool] = {
            n: t for n, t in tools.items() if is_listed(owners[n], spec.master_tools)
        }
        listed.update(masters)
        rankers = {}
        for ts in spec.toolsets.values():
            if ts.model is not None:
                try:
                    rankers[ts.name] = await ctx.model(ts.model)
                except BuildFailure as exc:
                    problems.append(exc.problem)
        views, budget_problems = build_views(spec.toolsets, {**tools, **masters}, listed, spec.server.page_size,
                                             names_known=not ctx.unchecked_tools, rankers=rankers)
        if problems or budget_problems or resources is None or prompts is None:
            everything = [conceal(p, spec.secrets) for p in (*problems, *budget_problems)]
            # A toolset that cannot meet its budget is a problem of the file, not of a component.
            failed = problems or resources is None or prompts is None
            raise BuildError(everything) if failed else ConfigError(everything)
        unchecked = Unchecked(tuple(sorted(ctx.unchecked_tools, key=lambda p: p.place)),
                              tuple(sorted(ctx.unreached_pools, key=lambda p: p.place)))
        return Graph(generation, spec, listed, stack, resources, prompts, ctx.shared, unchecked, views)
    except BaseException:
        await close_stack(stack)
        raise

