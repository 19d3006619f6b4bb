"""The call path of one tool: `Tool` wraps a kind's backend with the stages every tool shares.

Contract of `Tool.call` (the hot path): arguments are checked against the schema compiled at build
time before any backend runs; then the gate (memory shedding, rate limits) may refuse it; a cache hit
answers; else admission may refuse it and the backend runs under the tool's timeout. Every failure
of the tool becomes an `isError` result, never an exception, except cancellation, a ProtocolError (a
fault of the request) and InputRequired (a 2026-07-28 question for the client), which propagate.

Stages that are not configured cost nothing: a tool with no gate, cache or observation hook goes
straight from the argument check to `run`. The observation hook (`_watch`, telemetry/observe.py)
records every call exactly once with its outcome when telemetry observes calls.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from webmcp.cache.outcome import OUTCOME
from webmcp.call.context import InputRequired
from webmcp.call.deadline import CURRENT as DEADLINE
from webmcp.call.deadline import Deadline
from webmcp.call.results import error_result
from webmcp.callpath.arguments import LazyValidator, compile_check
from webmcp.callpath.schema_check import schema_problem
from webmcp.config.tools import ToolSpec
from webmcp.errors import ProtocolError, ToolError
from webmcp.executor.admission import Refused
from webmcp.telemetry.observe import Probe

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.executor.admission import Admission
    from webmcp.executor.gate import Gate
    from webmcp.telemetry.observe import ToolWatch

log = logging.getLogger(__name__)

def tool_definition(
    name: str,
    title: str | None,
    description: str,
    input_schema: Mapping[str, Any],
    output_schema: Mapping[str, Any] | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One tools/list entry."""
    out: dict[str, Any] = {"name": name}
    if title:
        out["title"] = title
    out["description"] = description
    out["inputSchema"] = dict(input_schema)
    if output_schema:
        out["outputSchema"] = dict(output_schema)
    if annotations:
        out["annotations"] = dict(annotations)
    return out


class Backend(Protocol):
    """What a kind builds: something that runs one call and returns a CallToolResult dict."""

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]: ...


class Caching(Protocol):
    """What a tool's calls go through when it is cached or invalidates (webmcp/cache/policy.py)."""

    def call(
        self, tool: Tool, arguments: dict[str, Any], ctx: Context, label: str | None
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...


async def _ready(result: dict[str, Any]) -> dict[str, Any]:
    return result


def _refused(refused: Refused, probe: Probe | None) -> dict[str, Any]:
    if probe is not None:
        probe.end("rejected", refused.reason)
    return error_result(str(refused))


class Tool:
    """A built tool: MCP definition + compiled argument check + timeout + backend."""

    __slots__ = ("_admission", "_backend", "_cache", "_cap", "_direct", "_gate", "_is_valid", "_output", "_output_ok",
                 "_priority", "_retire", "_validator", "_watch",
                 "definition", "error_details", "name", "spec", "timeout")

    def __init__(
        self,
        spec: ToolSpec,
        backend: Backend,
        input_schema: Mapping[str, Any],
        description: str | None = None,
        error_details: bool = False,
    ) -> None:
        self.spec = spec  # what it was built from: a reload or `validate --diff` compares it
        self.name = spec.name
        self.timeout = spec.timeout
        self.error_details = error_details
        self._backend = backend
        self._admission: Admission | None = None
        self._priority = spec.priority
        self._cap = spec.concurrency
        self._cache: Caching | None = None
        self._gate: Gate | None = None
        self._watch: ToolWatch | None = None
        self._retire: Callable[[str], dict[str, Any] | None] | None = None
        self._direct = True  # no gate, cache or watch: the argument check, then run()
        self._is_valid, self._validator = compile_check(input_schema)
        self._output: LazyValidator | None = None
        if spec.output_schema:  # the same exact fast check as for arguments; jsonschema for messages
            self._output_ok, self._output = compile_check(spec.output_schema)
        self.definition = tool_definition(spec.name, spec.title, spec.description or description or "",
                                          input_schema, spec.output_schema, spec.annotations)

    def guard(self, wrap: Callable[[Backend], Backend]) -> None:
        """Wrap the backend (a breaker or fallback of the tool's own; set once, by the graph builder)."""
        self._backend = wrap(self._backend)

    async def run_as_fallback(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Serve another tool's call as its fallback: inside that call's admission slot and timeout."""
        if not self._is_valid(arguments):
            return error_result(self.describe_invalid(arguments, f"fallback tool {self.name!r}"))
        try:
            return await self._backend.invoke(arguments, ctx)
        except ToolError as exc:
            return error_result(str(exc))
        except Exception as exc:
            log.exception("fallback tool %r failed", self.name)
            return error_result(f"fallback tool {self.name!r} failed: {type(exc).__name__}: {exc}")

    def admit_through(self, admission: Admission) -> None:
        """Calls of this tool take a slot of `admission` (set once, by the graph builder)."""
        self._admission = admission

    def use_cache(self, caching: Caching) -> None:
        """Calls go through `caching` (a cache, or invalidation after the call; set once, by the graph builder)."""
        self._cache = caching
        self._direct = False

    def gate_through(self, gate: Gate) -> None:
        """Calls of this tool pass `gate` (memory shedding, rate limits) first (set by the graph builder)."""
        self._gate = gate
        self._direct = False

    def watch_with(self, watch: ToolWatch) -> None:
        """Calls of this tool are observed by `watch` (metrics, spans, targets; set by the graph builder)."""
        self._watch = watch
        self._direct = False

    def deprecate(self, check: Callable[[str], dict[str, Any] | None]) -> None:
        """Each call first passes `check(name)` (a deprecated tool: it logs and counts the call, and after the
        sunset returns the isError result that refuses it; set by the graph builder)."""
        self._retire = check
        self._direct = False

    @property
    def caching(self) -> Caching | None:
        """What the tool's calls go through for caching (a ToolCache or an Invalidator), or None."""
        return self._cache

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The backend alone (with its guard, if any), for another tool's call (a split's variant):
        arguments are checked against this tool's schema; failures propagate to the caller's guard."""
        if not self._is_valid(arguments):
            return error_result(self.describe_invalid(arguments, f"variant tool {self.name!r}"))
        return await self._backend.invoke(arguments, ctx)

    @property
    def input_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self.definition["inputSchema"]
        return schema

    def check_schema(self) -> str | None:
        """A problem with the input or output schema itself (including an unresolvable $ref), or None."""
        for key, validator in (("input", self._validator), ("output", self._output)):
            if validator is not None:
                problem = schema_problem(orjson.dumps(validator.schema, option=orjson.OPT_SORT_KEYS))
                if problem:
                    return f"{key} is not a valid JSON Schema: {problem}"
        return None

    def call(
        self, arguments: dict[str, Any], ctx: Context, label: str | None = None
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        """One call, to await. `label` names the tool in messages when it is called as a master-tool operation.

        A plain function returning the coroutine to await: with no gate, cache or observation, the
        argument check and then `run` directly, without a coroutine of its own in between.
        """
        if not self._direct:
            return self._staged(arguments, ctx, label)
        if not self._is_valid(arguments):
            return _ready(error_result(self.describe_invalid(arguments, label)))
        return self.run(arguments, ctx, label)

    async def _staged(self, arguments: dict[str, Any], ctx: Context, label: str | None) -> dict[str, Any]:
        """The call with the stages this tool has: deprecation, observation, argument check, gate, cache."""
        retire = self._retire
        if retire is not None:
            retired = retire(self.name)
            if retired is not None:
                return retired
        watch = self._watch
        probe = Probe(watch, arguments, ctx, label, perf_counter()) if watch is not None else None
        if not self._is_valid(arguments):
            if probe is not None:
                probe.end("invalid")
            return error_result(self.describe_invalid(arguments, label))
        gate = self._gate  # memory shedding and rate limits, when configured
        if gate is not None:
            refused = await gate.refuse(ctx)
            if refused is not None:
                return _refused(refused, probe)
        cache = self._cache
        if cache is None:
            return await self.run(arguments, ctx, label, probe)
        if probe is None:
            return await cache.call(self, arguments, ctx, label)
        # A cached call is timed whole (a hit has no queue; a miss's queue wait counts as run time).
        probe.admitted()
        result = outcome = None
        OUTCOME.set(None)
        try:
            result = await cache.call(self, arguments, ctx, label)
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except ProtocolError:
            outcome = "invalid"
            raise
        except InputRequired:
            outcome = "input_required"
            raise
        finally:
            probe.cache = OUTCOME.get()
            probe.finish(outcome, result)

    async def run(
        self, arguments: dict[str, Any], ctx: Context, label: str | None = None, probe: Probe | None = None
    ) -> dict[str, Any]:
        """Admission, timeout and the backend, for checked arguments (what a cache hit skips)."""
        admission = self._admission
        if admission is not None and not admission.try_enter(self.name, self._cap):
            try:
                await admission.enter(self.name, self._cap, self._priority)
            except Refused as exc:  # Overloaded, QueueTimeout
                return _refused(exc, probe)
            except asyncio.CancelledError:
                if probe is not None:
                    probe.end("cancelled")
                raise
        if probe is not None:
            probe.admitted()
        # One timer per call that cancels this task; cheaper than asyncio.timeout() on the hot path.
        task = asyncio.current_task()
        assert task is not None
        deadline = Deadline(task)
        DEADLINE.set(deadline)
        timer = task.get_loop().call_later(self.timeout, deadline.expire)
        result = outcome = None  # for the probe: the result, or an outcome the result does not show
        try:
            result = await self._backend.invoke(arguments, ctx)
            if self._output is not None and not result.get("isError"):
                result = self._check_output(result, label)
            return result
        except asyncio.CancelledError:
            if not deadline.expired:
                outcome = "cancelled"
                raise
            outcome = "timeout"
            return error_result(f"{label or f'Tool {self.name!r}'} timed out after {self.timeout:g}s")
        except ToolError as exc:
            return error_result(str(exc))
        except ProtocolError:
            outcome = "invalid"
            raise  # a fault of the request (2026-07-28: a client capability it did not declare)
        except InputRequired:
            outcome = "input_required"
            raise
        except Exception as exc:
            label = label or f"Tool {self.name!r}"
            log.exception("%s failed", label)
            text = f"{label} failed: {type(exc).__name__}: {exc}"
            if self.error_details:
                text += "\n" + traceback.format_exc()
            return error_result(text)
        finally:
            timer.cancel()
            if deadline.expired:
                task.uncancel()  # our own cancellation is spent; the task's count stays balanced
            if admission is not None:
                admission.leave(self.name)
            if probe is not None:
                probe.finish(outcome, result)

    def _check_output(self, result: dict[str, Any], label: str | None) -> dict[str, Any]:
        """A tool with an output schema MUST return conforming structuredContent (MCP 2025-06-18)."""
        assert self._output is not None
        label = label or f"Tool {self.name!r}"
        if "structuredContent" not in result:
            return error_result(f"{label} declares an output schema but returned no structured content")
        if self._output_ok(result["structuredContent"]):
            return result
        problem = next(iter(self._output.iter_errors(result["structuredContent"])), None)
        if problem is not None:
            where = ".".join(map(str, problem.absolute_path))
            return error_result(f"{label} returned structured content that does not match its output schema: "
                                f"{where + ': ' if where else ''}{problem.message}")
        return result

    def describe_invalid(self, arguments: Any, label: str | None = None) -> str:
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
        lines = []
        for e in errors:
            where = ".".join(map(str, e.absolute_path))
            lines.append(f"- {where + ': ' if where else ''}{e.message}")
        return f"Invalid arguments for {label or f'tool {self.name!r}'}:\n" + "\n".join(lines)
