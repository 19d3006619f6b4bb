"""`GraphContext`: the BuildContext (kinds/contract.py) of one Graph build, plus what only the graph
builder uses (admission, gates, observation). Components are shared through `share()`: one per key
in a Graph, carried over from the previous Graph when its key (name and settings) is unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from webmcp.config.registry import kind
from webmcp.config.spec import ConfigSpec, RateLimitSpec, Where
from webmcp.errors import BuildFailure, Problem
from webmcp.executor.admission import Admission
from webmcp.executor.gate import Gate
from webmcp.executor.ratelimit import Buckets, MemoryBuckets, key
from webmcp.executor.threads import WorkerThreads
from webmcp.executor.user_code import NotCallable, resolve_function
from webmcp.graph.shared import Key, Shared
from webmcp.telemetry.observe import ToolWatch
from webmcp.telemetry.spans import SpanWriter
from webmcp.telemetry.targets import Window

if TYPE_CHECKING:
    import aiohttp
    from redis.asyncio import Redis

    from webmcp.config.tools import ToolSpec
    from webmcp.config.upstreams import BreakerSpec
    from webmcp.executor.memory import MemoryGuard
    from webmcp.executor.processes import WorkerProcesses
    from webmcp.models.model import Model
    from webmcp.upstreams.destinations import Destinations
    from webmcp.upstreams.upstream import Upstream

T = TypeVar("T")
U = TypeVar("U", bound="Upstream")


class GraphContext:
    """Handed to each kind's build(); also what the graph builder wires into every tool."""

    def __init__(self, spec: ConfigSpec, stack: AsyncExitStack, previous: dict[Key, Shared] | None = None,
                 connect: bool = True) -> None:
        self.spec = spec
        self.stack = stack
        self.base_dir: Path = spec.base_dir
        self.error_details = spec.server.error_details
        self.connects = connect
        self.previous = previous or {}  # the components of the Graph being replaced
        self.shared: dict[Key, Shared] = {}  # the components of the Graph being built
        self.unchecked_tools: list[Problem] = []  # what a build that does not connect left unchecked
        self.unreached_pools: list[Problem] = []

    # -- BuildContext ---------------------------------------------------------------------------
    def share(self, key: tuple[Hashable, ...], make: Callable[[], T], close: Callable[[T], object]) -> T:
        component = self.shared.get(key) or self.previous.get(key)
        if component is None:
            value = make()
            component = Shared(key, value, lambda: close(value))
        if key not in self.shared:
            self.shared[key] = component
            component.acquire(self.stack)
        made: T = component.value
        return made

    def is_new(self, key: tuple[Hashable, ...]) -> bool:
        """Is `key` neither in this build nor carried over (so `share()` would make it)?"""
        return key not in self.shared and key not in self.previous

    def on_close(self, callback: Callable[[], object]) -> None:
        self.stack.callback(callback)

    def fail(self, where: Where, message: str, got: str | None = None, hint: str | None = None) -> BuildFailure:
        return BuildFailure(where.problem(message, got, hint))

    def unchecked(self, where: Where, message: str) -> None:
        problem = where.problem(message)
        if problem not in self.unchecked_tools:  # a split builds a tool again, for its variant
            self.unchecked_tools.append(problem)

    def import_function(self, reference: str, where: Where) -> Callable[..., Any]:
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

    def thread_pool(self) -> WorkerThreads:
        threads = self.spec.executor.threads
        return self.share(("threads", threads), lambda: WorkerThreads(threads),
                          lambda p: p.shutdown(wait=False, cancel_futures=True))

    def process_pool(self) -> WorkerProcesses:
        from webmcp.executor.processes import WorkerProcesses  # multiprocessing: only for isolation: process

        size = self.spec.executor.processes
        return self.share(("processes", size), lambda: WorkerProcesses(size), lambda p: p.close())

    async def _pool(self, name: str | None, section_kind: str) -> object:
        """The runtime of a `pools:` entry, built by its kind (the default http pool for None)."""
        if name is None:
            from webmcp.kinds.pools.http import DEFAULT

            spec: Any = DEFAULT
        else:
            spec = self.spec.pools[name]
        assert spec.kind == section_kind, f"pool {name!r} is {spec.kind}, not {section_kind}"  # references.py
        built: object = await kind("pools", spec.kind).build(spec, self)
        return built

    async def http_session(self, pool: str | None) -> aiohttp.ClientSession:
        import aiohttp

        session = await self._pool(pool, "http")
        assert isinstance(session, aiohttp.ClientSession)
        return session

    async def guarded_http_session(self, pool: str | None, destinations: Destinations) -> aiohttp.ClientSession:
        from webmcp.kinds.pools.http import DEFAULT, make_session
        from webmcp.upstreams.destinations import GuardedResolver

        spec = DEFAULT if pool is None else self.spec.pools[pool]
        session: aiohttp.ClientSession = self.share(
            (f"pool {spec.name} (guarded)", spec, destinations),
            lambda: make_session(spec, GuardedResolver(destinations), f"{spec.name} (guarded)"),
            lambda s: s.close())
        return session

    async def redis(self, pool: str) -> Redis:
        from redis.asyncio import Redis

        client = await self._pool(pool, "redis")
        assert isinstance(client, Redis)
        return client

    def breaker_spec(self, name: str | None) -> BreakerSpec | None:
        return None if name is None else self.spec.breakers[name]

    async def model(self, name: str) -> Model:
        from webmcp.models.check import check_model
        from webmcp.models.model import Model, ModelUnavailable

        spec = self.spec.models[name]
        key = ("model", spec)
        if key not in self.shared:  # the first tool of this build naming it: check the backend and folder once
            check_model(spec)
        model = self.share(key, lambda: Model(spec), lambda m: m.close())
        if spec.preload:
            try:
                await model.load()
            except ModelUnavailable as exc:
                raise self.fail(spec.where, str(exc)) from None
        return model

    async def upstream(self, name: str, expected: type[U]) -> U:
        spec = self.spec.upstreams[name]
        upstream = await kind("upstreams", spec.kind).build(spec, self)
        assert isinstance(upstream, expected), f"upstream {name!r} is {spec.kind}"  # references.py checks kinds
        return upstream

    # -- what the graph builder wires into tools --------------------------------------------------
    def admission(self) -> Admission:
        """One per executor setting, kept across reloads that do not change it (running counts survive)."""
        ex = self.spec.executor
        return self.share(("admission", ex.max_concurrency, ex.queue_limit, ex.queue_timeout, ex.priorities),
                          lambda: Admission(ex.max_concurrency, ex.queue_limit, ex.queue_timeout,
                                            dict(ex.priorities)),
                          lambda _a: None)

    def memory_guard(self) -> MemoryGuard | None:
        """One sampler per max_memory, kept across reloads that do not change it."""
        limit = self.spec.scaling.max_memory
        if limit is None:
            return None
        from webmcp.executor.memory import MemoryGuard

        return self.share(("memory_guard", limit), lambda: MemoryGuard(limit).start(), lambda g: g.close())

    def rate_buckets(self, owner: str, spec: RateLimitSpec) -> Buckets:
        """The buckets of one limit (a tool's, or the per-client one): kept, with their tokens, across
        reloads that leave that limit as it was."""
        store = self.spec.executor.rate_limits
        if store.backend == "memory":
            buckets: Buckets = self.share(("rate_limit", owner, spec), lambda: MemoryBuckets(spec, key(owner, "")),
                                          lambda _b: None)
            return buckets
        from webmcp.executor.redis_buckets import RedisBuckets
        from webmcp.kinds.pools.redis import client

        assert store.pool is not None
        pool = self.spec.pools[store.pool]
        redis = client(self, pool)
        prefix = f"{store.prefix}:{owner}:"
        shared: Buckets = self.share(("rate_limit", owner, spec, store, pool.settings),
                                     lambda: RedisBuckets(spec, prefix, redis, store.on_error), lambda _b: None)
        return shared

    async def check_rate_limit_store(self) -> None:
        """executor.rate_limits: {backend: redis}: a required pool new to this build must answer (as for
        caches), else BuildFailure; once running, an outage only makes calls decide by on_error."""
        store = self.spec.executor.rate_limits
        if store.backend != "redis" or store.pool is None:
            return
        pool = self.spec.pools[store.pool]
        if not pool.required:
            return
        if not self.connects:
            note = pool.where.problem(f"Redis at {pool.address} not reached: a required pool must answer at start")
            if note not in self.unreached_pools:
                self.unreached_pools.append(note)
            return
        if ("redis_pool", *pool.settings) in self.previous:
            return  # carried over from the running config: it answered then
        from redis.exceptions import RedisError

        from webmcp.kinds.pools.redis import client

        try:
            await asyncio.wait_for(client(self, pool).ping(), pool.connect_timeout + pool.timeout)
        except (RedisError, OSError, TimeoutError):
            raise self.fail(pool.where, f"cannot reach Redis at {pool.address} within connect_timeout "
                            f"({pool.connect_timeout:g}s)", hint="start Redis or fix the URL; with required: false "
                            "the server starts without it, and rate limits follow executor.rate_limits.on_error "
                            "until it answers") from None

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
        return self.share(("call_window", scaling.window, scaling.p95_latency, scaling.error_rate),
                          lambda: Window(scaling.window, scaling.p95_latency, scaling.error_rate).start(),
                          lambda w: w.close())

    def span_writer(self) -> SpanWriter | None:
        spans = self.spec.telemetry.spans
        if spans is None:
            return None
        return self.share(("spans", spans), lambda: SpanWriter(spans).start(), lambda w: w.close())

    def watch(self, tspec: ToolSpec, generation: int, name: str) -> ToolWatch | None:
        """The observation hook of the calls of tool `name` (built from `tspec`, which may import several);
        None when nothing observes calls."""
        if not self.spec.observes_calls:
            return None
        return ToolWatch(name, tspec.priority, generation, self.call_window(), self.span_writer())
