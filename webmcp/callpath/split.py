"""A tool's A/B split: `percent` of its calls go to a variant (another tool, or the same tool through
another upstream), counted per variant.

Built only for tools that declare `split:`; other tools call their backend directly. The split wraps
the tool's own backend, inside its guard: the tool's cache, admission, timeout, breaker and fallback
apply to every call whichever variant serves it.

Choice: with `sticky_on`, a hash (blake2b, stable across processes and restarts) of those arguments'
values gives each call a point in [0, 100); the variant takes the points below `percent`, so equal
values always go the same way, and raising `percent` only moves calls from the primary to the variant.
Without it, each call draws at random.

Per call, on the event loop: one draw or hash, the chosen backend, one counter increment and one
histogram observation on children bound at build time.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.errors import ProtocolError, ToolError
from webmcp.upstreams.upstream import UpstreamFailure

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.callpath.tool import Backend, Tool
    from webmcp.config.upstreams import SplitSpec

_SCALE = 100.0 / 2**64


def point(arguments: Mapping[str, Any], sticky_on: tuple[str, ...]) -> float:
    """Where in [0, 100) the values of `sticky_on` put a call (the same values, the same point)."""
    values = orjson.dumps([arguments.get(name) for name in sticky_on], option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(values, digest_size=8).digest(), "big") * _SCALE


class Arm:
    """One way a call can go, with its metric children."""

    __slots__ = ("backend", "calls", "seconds")

    def __init__(self, tool: str, variant: str, target: str, backend: Backend) -> None:
        self.backend = backend
        from webmcp.upstreams.metrics import SPLIT_CALLS, SPLIT_SECONDS  # prometheus-client: configs with splits

        self.calls = {o: SPLIT_CALLS.labels(tool, variant, target, o) for o in ("ok", "error", "failure")}
        self.seconds = SPLIT_SECONDS.labels(tool, variant, target)

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        start = perf_counter()
        try:
            result = await self.backend.invoke(arguments, ctx)
        except (ToolError, ProtocolError) as exc:
            # The call's own fault (a refused argument, a capability it lacks) is an error; the upstream's
            # (open circuit, failing endpoints) a failure of this way.
            self.calls["failure" if isinstance(exc, UpstreamFailure) else "error"].inc()
            self.seconds.observe(perf_counter() - start)
            raise
        except Exception:
            self.calls["failure"].inc()
            self.seconds.observe(perf_counter() - start)
            raise
        self.calls["error" if result.get("isError") else "ok"].inc()
        self.seconds.observe(perf_counter() - start)
        return result


class Split:
    __slots__ = ("_percent", "_primary", "_sticky", "_variant")

    def __init__(self, spec: SplitSpec, primary: Arm, variant: Arm) -> None:
        self._percent = spec.percent
        self._sticky = spec.sticky_on
        self._primary = primary
        self._variant = variant

    def invoke(self, arguments: dict[str, Any], ctx: Context) -> Any:
        sticky = self._sticky
        at = point(arguments, sticky) if sticky else random.random() * 100.0
        arm = self._variant if at < self._percent else self._primary
        return arm.invoke(arguments, ctx)


class ToolVariant:
    """A variant tool's backend, looked up at call time (its own guard may wrap it later in the build)."""

    __slots__ = ("_tool",)

    def __init__(self, tool: Tool) -> None:
        self._tool = tool

    def invoke(self, arguments: dict[str, Any], ctx: Context) -> Any:
        return self._tool.invoke(arguments, ctx)
