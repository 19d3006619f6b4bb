"""Build a Graph from a ConfigSpec, all or nothing.

Shared components (worker threads, the HTTP session) are created on first use and entered into one
AsyncExitStack; if any tool fails to build, every problem is collected, the stack unwinds what was
built, and a BuildError lists them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path as FsPath
from typing import Any

import orjson

from webmcp.cache.policy import CacheSet
from webmcp.config.master import is_listed
from webmcp.config.spec import ConfigSpec, RateLimitSpec, Where
from webmcp.errors import BuildError, Problem
from webmcp.graph.admission import Admission
from webmcp.graph.gate import Gate
from webmcp.graph.graph import Graph, close_stack
from webmcp.graph.master import MasterTool, conflicts
from webmcp.graph.memory import MemoryGuard
from webmcp.graph.processes import WorkerProcesses
from webmcp.graph.ratelimit import Buckets, MemoryBuckets, key
from webmcp.graph.shared import Key, Shared
from webmcp.graph.threads import WorkerThreads
from webmcp.kinds.registry import kind
from webmcp.kinds.tools.base import Tool, ToolSpec
from webmcp.protocol import param_headers
from webmcp.surface.prompts import build as build_prompts
from webmcp.surface.resources import build as build_resources
from webmcp.telemetry.observe import ToolWatch
from webmcp.telemetry.spans import SpanWriter
from webmcp.telemetry.targets import Window
from webmcp.upstreams.guard import guard_tools
from webmcp.upstreams.split import split_tools

log = logging.getLogger(__name__)


class BuildFailure(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


class BuildContext:
    """Handed to each kind's build(): shared components and the failure helper."""

    def __init__(self, spec: ConfigSpec, stack: AsyncExitStack, previous: dict[Key, Shared] | None = None) -> None:
        self.spec = spec
        self.stack = stack
        self.base_dir: FsPath = spec.base_dir
        self.error_details = spec.server.error_details
        self.previous = previous or {}  # the components of the Graph being replaced
        self.shared: dict[Key, Shared] = {}  # the components of the Graph being built

    def _shared(self, key: Key, make: Callable[[], Any], close: Callable[[Any], Any]) -> Any:
        """The component for `key`: this build's, else the previous Graph's (kept across a reload),
        else a new one."""
        component = self.shared.get(key) or self.previous.get(key)
        if component is None:
            value = make()
            component = Shared(key, value, lambda: close(value))
        if key not in self.shared:
            self.shared[key] = component
            component.acquire(self.stack)
        return component.value

    def fail(self, where: Where, message: str, got: str | None = None, hint: str | None = None) -> BuildFailure:
        return BuildFailure(where.problem(message, got, hint))

    def import_function(self, reference: str, where: Where) -> Callable[..., Any]:
        """`package.module:attr` from the config's folder, or a BuildFailure saying why not."""
        from webmcp.kinds.tools.python import NotCallable, resolve_function

        try:
            return resolve_function(reference, str(self.base_dir))
        except (ImportError, AttributeError) as exc:
            raise self.fail(where, f"cannot import {reference}: {type(exc).__name__}: {exc}",
                            hint="the config file's folder is on sys.path; check the module and attribute names"
                            ) from None
        except NotCallable as exc:
            raise self.fail(where, str(exc)) from None
        except Exception as exc:  # the module itself fails: syntax error, exception at import time
            raise self.fail(where, f"importing {reference} failed: {type(exc).__name__}: {exc}") from None

    def admission(self) -> Admission:
        """One per executor setting, kept across reloads that do not change it (running counts survive)."""
        ex = self.spec.executor
        admission: Admission = self._shared(
            ("admission", ex.max_concurrency, ex.queue_limit, ex.queue_timeout, ex.priorities),
            lambda: Admission(ex.max_concurrency, ex.queue_limit, ex.queue_timeout, dict(ex.priorities)),
            lambda _a: None,
        )
        return admission

    def memory_guard(self) -> MemoryGuard | None:
        """One sampler per max_memory, kept across reloads that do not change it."""
        limit = self.spec.scaling.max_memory
        if limit is None:
            return None
        guard: MemoryGuard = self._shared(("memory_guard", limit), lambda: MemoryGuard(limit).start(),
                                          lambda g: g.close())
        return guard

    def rate_buckets(self, owner: str, spec: RateLimitSpec) -> Buckets:
        """The buckets of one limit (a tool's, or the per-client one): kept, with their tokens, across
        reloads that leave that limit as it was."""
        buckets: Buckets = self._shared(("rate_limit", owner, spec), lambda: MemoryBuckets(spec, key(owner, "")),
                                        lambda _b: None)
        return buckets

    def gate(self, tspec: ToolSpec) -> Gate | None:
        """What a tool's calls pass before admission; None when no limit applies to it."""
        guard = self.memory_guard() if tspec.priority in self.spec.scaling.shed else None
        client = self.spec.executor.client_rate_limit
        client_buckets = self.rate_buckets("*", client) if client is not None else None
        tool_buckets = self.rate_buckets(tspec.name, tspec.rate_limit) if tspec.rate_limit is not None else None
        if guard is None and client_buckets is None and tool_buckets is None:
            return None
        return Gate(tspec.name, tspec.priority, guard, tool_buckets, client_buckets)

    def call_window(self) -> Window:
        scaling = self.spec.scaling
        window: Window = self._shared(
            ("call_window", scaling.window, scaling.p95_latency, scaling.error_rate),
            lambda: Window(scaling.window, scaling.p95_latency, scaling.error_rate).start(), lambda w: w.close())
        return window

    def span_writer(self) -> SpanWriter | None:
        spans = self.spec.telemetry.spans
        if spans is None:
            return None
        writer: SpanWriter = self._shared(("spans", spans), lambda: SpanWriter(spans).start(), lambda w: w.close())
        return writer

    def watch(self, tspec: ToolSpec, generation: int, name: str) -> ToolWatch | None:
        """The observation hook of the calls of tool `name` (built from `tspec`, which may import several);
        None when nothing observes calls."""
        if not self.spec.observes_calls:
            return None
        return ToolWatch(name, tspec.priority, generation, self.call_window(), self.span_writer())

    def process_pool(self) -> WorkerProcesses:
        """Worker processes for `isolation: process` tools, one pool per executor.processes setting."""
        size = self.spec.executor.processes
        pool: WorkerProcesses = self._shared(("processes", size), lambda: WorkerProcesses(size), lambda p: p.close())
        return pool

    def thread_pool(self) -> WorkerThreads:
        threads = self.spec.executor.threads
        pool: WorkerThreads = self._shared(("threads", threads), lambda: WorkerThreads(threads),
                                           lambda p: p.shutdown(wait=False, cancel_futures=True))
        return pool

    def pool_spec(self, name: str | None) -> Any:
        """The HttpPoolSpec called `name` in `pools:`, or the default pool's for None."""
        from webmcp.kinds.pools.http import DEFAULT

        return DEFAULT if name is None else self.spec.pools[name]

    def http_pool(self, spec: Any) -> Any:
        """The aiohttp session of one http pool, kept across reloads that do not change its settings."""
        from webmcp.kinds.pools.http import make_session

        return self._shared((f"pool {spec.name}", spec), lambda: make_session(spec), lambda session: session.close())

    def http_session(self, pool: str | None = None) -> Any:
        """The session of the pool called `pool`, or of the default pool."""
        return self.http_pool(self.pool_spec(pool))

    def breaker_spec(self, name: str | None) -> Any:
        return None if name is None else self.spec.breakers[name]

    async def upstream(self, name: str) -> Any:
        """The runtime of upstream `name` (one per graph, kept across reloads that do not change it)."""
        spec = self.spec.upstreams[name]
        return await kind("upstreams", spec.kind).build(spec, self)


def _not_json(definition: dict[str, Any]) -> str | None:
    try:
        orjson.dumps(definition)
    except TypeError as exc:
        return f"the tool's definition is not JSON ({exc}); check defaults in the function's signature"
    return None


async def build(spec: ConfigSpec, generation: int = 1, previous: Graph | None = None) -> Graph:
    """Build a Graph; with `previous` (a reload), components whose settings did not change are kept."""
    stack = AsyncExitStack()
    ctx = BuildContext(spec, stack, previous.shared if previous is not None else None)
    try:
        tools: dict[str, Tool] = {}
        owners: dict[str, ToolSpec] = {}  # tool name -> the entry it was built from (one entry may import many)
        problems: list[Problem] = []
        caches = CacheSet(ctx)
        problems.extend(await caches.open())
        ctx.memory_guard()  # sampled (and reported) even when no tool's class is shed
        for i, (name, tspec) in enumerate(spec.tools.items()):
            if i % 8 == 7:
                await asyncio.sleep(0)  # a reload builds while serving: let waiting calls run between tools
            try:
                built = await kind("tools", tspec.kind).build(tspec, ctx)
                for tool in built.values() if isinstance(built, dict) else [built]:
                    await caches.attach(tool, tspec)
            except BuildFailure as exc:
                problems.append(exc.problem)
                continue
            for tool in built.values() if isinstance(built, dict) else [built]:
                if tool.name in owners or (tool.name != name and tool.name in spec.tools):
                    problems.append(tspec.where.problem(f"imports tool {tool.name!r}, which is declared already",
                                                        hint="set import.prefix or import.deny"))
                    continue
                bad_schema = (tool.check_schema() or _not_json(tool.definition)
                              or param_headers.problem(tool.input_schema))
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
            if tspec.priority not in dict(spec.executor.priorities):
                classes = ", ".join(dict(spec.executor.priorities))
                problems.append(tspec.where.problem("unknown priority class", f'"{tspec.priority}"',
                                                    f"executor.priorities has: {classes}"))
        problems.extend(await split_tools(tools, owners, ctx))
        problems.extend(guard_tools(spec, tools, owners, ctx))
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
        if problems or resources is None or prompts is None:
            raise BuildError(problems)
        listed: dict[str, Tool | MasterTool] = {
            n: t for n, t in tools.items() if is_listed(owners[n], spec.master_tools)
        }
        listed.update(masters)
        return Graph(generation, spec, listed, stack, resources, prompts, ctx.shared)
    except BaseException:
        await close_stack(stack)
        raise

