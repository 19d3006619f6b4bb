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

import dataclasses
import hashlib
import random
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

import orjson

from webmcp.errors import ProtocolError, ToolError
from webmcp.kinds.registry import kind
from webmcp.upstreams.metrics import SPLIT_CALLS, SPLIT_SECONDS
from webmcp.upstreams.upstream import UpstreamFailure

if TYPE_CHECKING:
    from webmcp.errors import Problem
    from webmcp.graph.build import BuildContext
    from webmcp.kinds.tools.base import Backend, Tool, ToolSpec
    from webmcp.protocol.context import Context
    from webmcp.upstreams.spec import SplitSpec

_SCALE = 100.0 / 2**64


def point(arguments: Mapping[str, Any], sticky_on: tuple[str, ...]) -> float:
    """Where in [0, 100) the values of `sticky_on` put a call (the same values, the same point)."""
    values = orjson.dumps([arguments.get(name) for name in sticky_on], option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(values, digest_size=8).digest(), "big") * _SCALE


class _Arm:
    """One way a call can go, with its metric children."""

    __slots__ = ("backend", "calls", "seconds")

    def __init__(self, tool: str, variant: str, target: str, backend: Backend) -> None:
        self.backend = backend
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

    def __init__(self, spec: SplitSpec, primary: _Arm, variant: _Arm) -> None:
        self._percent = spec.percent
        self._sticky = spec.sticky_on
        self._primary = primary
        self._variant = variant

    def invoke(self, arguments: dict[str, Any], ctx: Context) -> Any:
        sticky = self._sticky
        at = point(arguments, sticky) if sticky else random.random() * 100.0
        arm = self._variant if at < self._percent else self._primary
        return arm.invoke(arguments, ctx)


class _ToolVariant:
    """A variant tool's backend, looked up at call time (its own guard may wrap it later in the build)."""

    __slots__ = ("_tool",)

    def __init__(self, tool: Tool) -> None:
        self._tool = tool

    def invoke(self, arguments: dict[str, Any], ctx: Context) -> Any:
        return self._tool.invoke(arguments, ctx)


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


async def split_tools(tools: Mapping[str, Tool], owners: Mapping[str, ToolSpec], ctx: BuildContext) -> list[Problem]:
    """Wrap the backend of every tool that declares `split:`; the problems of those that cannot be split."""
    from webmcp.graph.build import BuildFailure

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
            backend, target = _ToolVariant(other), split.tool
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
            backend, target = _ToolVariant(twin), f"upstream {split.upstream}"
        own = getattr(tspec, "upstream", None)
        variant = _Arm(name, "variant", target, backend)

        def wrap(primary: Backend, s: SplitSpec = split, n: str = name, t: str = f"upstream {own}" if own else name,
                 v: _Arm = variant) -> Backend:
            return Split(s, _Arm(n, "primary", t, primary), v)

        tool.guard(wrap)
    return problems
