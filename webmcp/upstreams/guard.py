"""A tool's own circuit breaker and its fallback (graceful degradation), wrapped around its backend.

Built only for tools that declare `breaker:` or `fallback:`; other tools call their backend directly,
so neither costs anything when not configured.

Failures, for both: the backend raised (an UpstreamFailure from its upstream, or any unexpected
exception). An isError result the backend returns on purpose (a 404, a command's non-zero exit) and
a ToolError about the call's own input are answers, not failures. Cancellation and protocol
questions (ProtocolError, InputRequired) pass through and settle the breaker permit with `release()`.

A fallback's answer sets `cache.policy.DEGRADED`, so a cached tool never stores it as its own result.
`cached: true` serves the key's last known good result (cache/last_good.py) marked stale; without one,
the fallback's tool or message, if any, else the failure itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webmcp.cache.policy import DEGRADED, ToolCache
from webmcp.errors import ProtocolError, ToolError
from webmcp.kinds.tools.deadline import timed_out
from webmcp.kinds.tools.results import text_result
from webmcp.upstreams.breaker import Breaker
from webmcp.upstreams.spec import BreakerSpec, FallbackSpec
from webmcp.upstreams.upstream import UpstreamFailure, breaker_gauge

if TYPE_CHECKING:
    from webmcp.config.spec import ConfigSpec
    from webmcp.errors import Problem
    from webmcp.graph.build import BuildContext
    from webmcp.kinds.tools.base import Backend, Tool, ToolSpec
    from webmcp.protocol.context import Context

log = logging.getLogger(__name__)


class Guarded:
    __slots__ = ("_backend", "_breaker", "_fallback", "cached", "fallback_tool", "name")

    def __init__(self, name: str, backend: Backend, breaker: Breaker | None, fallback: FallbackSpec | None) -> None:
        self.name = name
        self._backend = backend
        self._breaker = breaker
        self._fallback = fallback
        self.fallback_tool: Tool | None = None  # set by the graph builder once every tool is built
        self.cached: ToolCache | None = None  # the tool's cache, for `cached: true`

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        breaker = self._breaker
        if breaker is not None and not breaker.allow():
            return await self._degrade(breaker.message(), arguments, ctx)
        try:
            result = await self._backend.invoke(arguments, ctx)
        except UpstreamFailure as exc:
            if breaker is not None:
                breaker.failure()
            return await self._degrade(str(exc), arguments, ctx)
        except ToolError:
            if breaker is not None:
                breaker.success()  # the call's own fault; the backend answered
            raise
        except ProtocolError:
            if breaker is not None:
                breaker.release()  # a fault of the request, not of the backend
            raise
        except Exception as exc:
            if breaker is not None:
                breaker.failure()
            if self._fallback is None:
                raise
            log.exception("tool %r failed; using its fallback", self.name)
            return await self._degrade(f"{type(exc).__name__}: {exc}", arguments, ctx)
        except BaseException:
            if not timed_out():
                if breaker is not None:
                    breaker.release()  # cancelled by the client, or a question for it (InputRequired)
                raise
            # The tool's timeout cut the backend: the source hangs. That is a failure, and what needs no
            # more waiting (the last cached value, a fixed message) still answers.
            if breaker is not None:
                breaker.failure()
            quick = self._quick_fallback(arguments, ctx)
            if quick is None:
                raise
            return quick
        if breaker is not None:
            breaker.success()
        return result

    def _quick_fallback(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
        """The fallback answers that need no call: the last cached value, or the fixed message."""
        fallback = self._fallback
        if fallback is None:
            return None
        if self.cached is not None:
            stale = self.cached.stale(arguments, ctx)
            if stale is not None:
                log.info("tool %r served its last cached result", self.name)
                return stale
        if fallback.message is not None:
            DEGRADED.set("fallback")
            return text_result(fallback.message)
        return None

    async def _degrade(self, reason: str, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        if self._fallback is None:
            raise UpstreamFailure(reason)
        quick = self._quick_fallback(arguments, ctx)
        if quick is not None:
            log.info("tool %r degraded (%s)", self.name, reason)
            return quick
        if self.fallback_tool is None:
            raise UpstreamFailure(reason)  # cached: true alone, and nothing cached for these arguments
        DEGRADED.set("fallback")
        log.info("tool %r degraded to its fallback %r: %s", self.name, self.fallback_tool.name, reason)
        return await self.fallback_tool.run_as_fallback(arguments, ctx)


def guard_tools(spec: ConfigSpec, tools: Mapping[str, Tool], owners: Mapping[str, ToolSpec],
                ctx: BuildContext) -> list[Problem]:
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

            breaker = ctx._shared((f"breaker tool {name}", policy), make, lambda _b: None)

        def wrap(backend: Backend, n: str = name, b: Breaker | None = breaker) -> Backend:
            guarded = Guarded(n, backend, b, owners[n].fallback)
            guards.append(guarded)
            return guarded

        tool.guard(wrap)
    for guarded in guards:
        fallback = guarded._fallback
        if fallback is not None and fallback.tool is not None:
            guarded.fallback_tool = tools.get(fallback.tool)
        if fallback is not None and fallback.cached:
            caching = tools[guarded.name].caching
            if isinstance(caching, ToolCache):
                caching.keep_last_good()
                guarded.cached = caching
            else:  # its cache has strategy: none
                where = owners[guarded.name].where
                problems.append(where.problem("fallback: {cached: true} needs a cache that stores results",
                                              hint="give the tool a cache whose strategy is not none"))
    return problems
