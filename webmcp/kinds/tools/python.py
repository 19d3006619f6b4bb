"""python tool: calls `package.module:function`. Async functions run on the event loop; sync ones
in the graph's worker threads so that they never block other calls, or, with `isolation: process`,
in its worker processes (executor/processes.py) so that CPU-bound ones run in parallel."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from webmcp.call.results import from_value
from webmcp.callpath.tool import Tool
from webmcp.config.marked_yaml import Path
from webmcp.config.registry import Kind, register
from webmcp.config.spec import SpecContext
from webmcp.config.tools import ToolSpec
from webmcp.errors import ToolError
from webmcp.executor.signature import Signature, describe

if TYPE_CHECKING:
    from webmcp.call.context import Context
    from webmcp.executor.processes import WorkerProcesses
    from webmcp.kinds.contract import BuildContext


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PythonToolSpec(ToolSpec):
    function: str
    isolation: Literal["thread", "process"] = "thread"

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any], path: Path, ctx: SpecContext) -> PythonToolSpec:
        return cls(**ToolSpec.common(name, node, path, ctx), function=node["function"],
                   isolation=node.get("isolation", "thread"))


class PythonBackend:
    __slots__ = ("_ctx_param", "_filter", "_fn", "_is_async", "_params", "_pool")

    def __init__(self, fn: Callable[..., Any], sig: Signature, pool: Any, schema_is_closed: bool) -> None:
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn)
        self._ctx_param = sig.context_param
        self._params = sig.params
        # Arguments the function does not take are dropped, unless the schema already refuses them
        # (additionalProperties: false over the function's own parameters) or it takes **kwargs.
        self._filter = not (sig.takes_kwargs or schema_is_closed)
        self._pool = pool

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        if self._filter:
            kwargs = {k: v for k, v in arguments.items() if k in self._params}
        elif self._ctx_param is not None:
            kwargs = dict(arguments)  # the context is added below; the caller's dict stays as it was
        else:
            kwargs = arguments
        if self._ctx_param is not None:
            kwargs[self._ctx_param] = ctx
        if self._is_async:
            return from_value(await self._fn(**kwargs), blocks=True)
        return from_value(await self._call_sync(kwargs), blocks=True)

    async def _call_sync(self, kwargs: dict[str, Any]) -> Any:
        run = functools.partial(contextvars.copy_context().run, self._fn, **kwargs)
        job = self._pool.submit(run)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if not job.cancel() and not job.done():  # running: the thread cannot be interrupted
                log.warning("%s: a timed-out or cancelled call keeps running in its worker thread",
                            getattr(self._fn, "__qualname__", self._fn))
                self._pool.abandon(job)  # its worker is replaced, within a limit
            raise


class ProcessBackend:
    """A sync function run in the graph's worker processes: arguments and result travel by pickle."""

    __slots__ = ("_base_dir", "_filter", "_params", "_pool", "_reference", "_stamp", "_timeout")

    def __init__(self, spec: PythonToolSpec, sig: Signature, pool: WorkerProcesses, base_dir: str,
                 schema_is_closed: bool) -> None:
        from webmcp.executor.processes import module_stamp  # multiprocessing: only for isolation: process

        self._reference = spec.function
        self._timeout = spec.timeout
        self._params = sig.params
        self._filter = not (sig.takes_kwargs or schema_is_closed)
        self._pool = pool
        self._base_dir = base_dir
        self._stamp = module_stamp(spec.function)

    async def invoke(self, arguments: dict[str, Any], ctx: Context) -> dict[str, Any]:
        kwargs = {k: v for k, v in arguments.items() if k in self._params} if self._filter else arguments
        future = self._pool.submit(self._reference, self._base_dir, self._stamp, kwargs, self._timeout)
        try:
            value = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():  # already running: its worker stops it at the tool's timeout
                log.info("%s: a cancelled call runs on in its worker process until it ends or times out",
                         self._reference)
            raise
        except Exception as exc:
            from concurrent.futures.process import BrokenProcessPool

            if isinstance(exc, BrokenProcessPool):
                raise ToolError(f"{self._reference} failed: its worker process died (killed past its CPU limit, "
                                "or from outside)") from None
            raise
        return from_value(value, blocks=True)


async def build(spec: PythonToolSpec, ctx: BuildContext) -> Tool:
    fn = ctx.import_function(spec.function, spec.where)
    try:
        sig = describe(fn)
    except (TypeError, ValueError) as exc:
        raise ctx.fail(spec.where, f"cannot use {spec.function} as a tool: {exc}") from None
    schema = spec.input_schema or sig.schema
    closed = schema.get("additionalProperties") is False and set(schema.get("properties") or {}) <= sig.params
    backend: PythonBackend | ProcessBackend
    if spec.isolation == "process":
        if inspect.iscoroutinefunction(fn):
            raise ctx.fail(spec.where, f"{spec.function} is an async function; isolation: process runs sync "
                           "functions only", hint="make it a plain def, or drop isolation: process")
        if sig.context_param is not None:
            raise ctx.fail(spec.where, f"{spec.function} takes a Context (parameter {sig.context_param!r}), which "
                           "cannot reach a worker process", hint="drop the parameter, or drop isolation: process")
        backend = ProcessBackend(spec, sig, ctx.process_pool(), str(ctx.base_dir), closed)
    else:
        pool = None if inspect.iscoroutinefunction(fn) else ctx.thread_pool()
        backend = PythonBackend(fn, sig, pool, closed)
    if spec.input_schema is not None and sig.takes_kwargs is False:
        # A declared schema may name arguments the function does not take: say so now, not per call.
        unknown = set(spec.input_schema.get("properties") or {}) - set(sig.params)
        if unknown:
            raise ctx.fail(spec.where, f"input declares {', '.join(sorted(unknown))}, which {spec.function} "
                           "does not accept", hint="add the parameters or a **kwargs")
    return Tool(spec, backend, schema, sig.description, ctx.error_details)


KIND = register(Kind("tools", "python", PythonToolSpec, build))
