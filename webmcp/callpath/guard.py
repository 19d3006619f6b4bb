"""A tool's own circuit breaker and its fallback (graceful degradation), wrapped around its backend.

Built only for tools that declare `breaker:` or `fallback:`; other tools call their backend directly,
so neither costs anything when not configured.

Failures, for both: the backend raised (an UpstreamFailure from its upstream, or any unexpected
exception). An isError result the backend returns on purpose (a 404, a command's non-zero exit) and
a ToolError about the call's own input are answers, not failures. Cancellation and protocol
questions (ProtocolError, InputRequired) pass through and settle the breaker permit with `release()`.

A fallback's answer sets `cache.outcome.DEGRADED`, so a cached tool never stores it as its own result.
`cached: true` serves the key's last known good result (cache/last_good.py) marked stale; without one,
the fallback's tool or message, if any, else the failure itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from webmcp.cache.outcome import DEGRADED
from webmcp.call.deadline import timed_out
from webmcp.call.results import text_result
from webmcp.config.upstreams import FallbackSpec
from webmcp.errors import ProtocolError, ToolError
from webmcp.upstreams.breaker import Breaker
from webmcp.upstreams.upstream import UpstreamFailure

if TYPE_CHECKING:
    from webmcp.cache.policy import ToolCache
    from webmcp.call.context import Context
    from webmcp.callpath.tool import Backend, Tool

log = logging.getLogger(__name__)


class Guarded:
    __slots__ = ("_backend", "_breaker", "cached", "fallback", "fallback_tool", "name")

    def __init__(self, name: str, backend: Backend, breaker: Breaker | None, fallback: FallbackSpec | None) -> None:
        self.name = name
        self._backend = backend
        self._breaker = breaker
        self.fallback = fallback
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
            if self.fallback is None:
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
        fallback = self.fallback
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
        if self.fallback is None:
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
