"""Hot reload: build a new Graph from the config file and swap it in without dropping a call.

Contract:
- Same code path as startup (`load` → `build`). On any error the old Graph stays, the process goes
  on, and the outcome is logged and written to the run file (`webmcp reload` reads it).
- Single-flight: requests during a reload collapse into one more reload after it.
- On success one assignment swaps the Graph. Calls already running finish on the old one; it is
  closed when its leases reach zero, or after `graceful_timeout`, cancelling (and counting) the rest.
- Python modules imported from the config file's folder are imported afresh, so edited tool code
  takes effect; the old Graph keeps the old code until it retires.
- Settings read once by the transport are reported as "ignored until restart", never dropped silently.
- Sessions are told `notifications/{tools,prompts,resources}/list_changed` for each list that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webmcp.config.spec import ConfigSpec
from webmcp.errors import ConfigError
from webmcp.executor.user_code import forget_user_modules
from webmcp.graph.build import build
from webmcp.graph.graph import Graph
from webmcp.graph.holder import GraphHolder
from webmcp.server.diff import Changes, compare, summarize
from webmcp.telemetry import stats

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReloadReport:
    ok: bool
    generation: int
    seconds: float
    message: str
    changes: Changes | None = None
    covers: int = 0  # the reload requests (counted from 1) this reload answers, up to this one

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "generation": self.generation, "seconds": round(self.seconds, 4),
                "message": self.message, "changes": self.changes.as_dict() if self.changes else None,
                "covers": self.covers}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Graph built by a reload, not yet swapped in."""

    graph: Graph
    started: float  # perf_counter() when the reload began


class Reloader:
    def __init__(
        self,
        load: Callable[[], ConfigSpec],
        holder: GraphHolder,
        on_report: Callable[[ReloadReport], None] = lambda report: None,
        on_request: Callable[[int], None] = lambda requested: None,
    ) -> None:
        self._on_request = on_request
        self.requested = 0
        self._load = load
        self.holder = holder
        self._on_report = on_report
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._retiring: set[asyncio.Task[None]] = set()
        self.last: ReloadReport | None = None
        self.also: list[Callable[[], None]] = []  # run at the start of each reload: files the transport reads

    def request(self) -> None:
        """Ask for a reload (from a signal handler or an endpoint); returns at once."""
        self.requested += 1
        self._on_request(self.requested)
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def reload_now(self) -> ReloadReport:
        """Request a reload and wait for its outcome (the admin endpoint)."""
        self.request()
        await self.wait()
        assert self.last is not None
        return self.last

    async def wait(self) -> None:
        """Until no reload is running or queued (for shutdown and tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)  # a waiter that gives up (an admin client gone) leaves it running

    async def _run(self) -> None:
        while True:
            self._again = False
            covers = self.requested  # a request arriving from here on gets a reload of its own
            report = await self.reload()
            report.covers = covers
            stats.reloaded(report.ok)
            self.last = report
            self._on_report(report)
            if not self._again:
                return

    async def reload(self) -> ReloadReport:
        prepared = await self.prepare()
        return prepared if isinstance(prepared, ReloadReport) else self.commit(prepared)

    async def prepare(self, generation: int | None = None) -> Prepared | ReloadReport:
        """Load and build the next Graph (numbered `generation`, else the current one's + 1) without
        swapping it in: the Graph to `commit` or `discard`, or the report of a failure (the old Graph stays)."""
        started = time.perf_counter()
        old = self.holder.current
        for step in self.also:  # TLS certificates, pinned signing keys: they keep their old value on failure
            step()
        try:
            forget_user_modules(old.spec.base_dir)
            loop = asyncio.get_running_loop()
            spec = await loop.run_in_executor(None, self._load)
            # Import the tool modules off the event loop (a slow import would stall every session); the
            # build then finds them in sys.modules. An import that fails here fails again in build(),
            # which reports it with its file:line.
            await loop.run_in_executor(None, preimport, spec)
            new = await build(spec, generation or old.generation + 1, previous=old)
        except ConfigError as exc:
            seconds = time.perf_counter() - started
            for problem in exc.problems:
                log.error("reload: %s", problem.render())
            first = exc.problems[0].render() if exc.problems else "?"
            message = f"kept generation {old.generation}: {len(exc.problems)} problem(s) in the config; first: {first}"
            log.error("reload failed: kept generation %d (problems above)", old.generation)
            return ReloadReport(False, old.generation, seconds, message)
        except Exception as exc:
            seconds = time.perf_counter() - started
            log.exception("reload failed")
            return ReloadReport(False, old.generation, seconds,
                                f"kept generation {old.generation}: {type(exc).__name__}: {exc}")
        return Prepared(new, started)

    def commit(self, prepared: Prepared) -> ReloadReport:
        """Swap in a prepared Graph: one assignment; the old one retires once its calls are done."""
        old, new = self.holder.current, prepared.graph
        changes = compare(summarize(old), summarize(new))
        kept = sorted(str(k[0]) for k in new.shared.keys() & old.shared.keys())
        built = sorted(str(k[0]) for k in new.shared.keys() - old.shared.keys())
        closing = sorted(str(k[0]) for k in old.shared.keys() - new.shared.keys())
        self.holder.swap(new)
        logging.getLogger().setLevel(new.spec.server.log_level.upper())
        for session in list(self.holder.sessions):
            for what in changes.lists_changed():
                session.notify_list_changed(what)
        retire = asyncio.get_running_loop().create_task(self._retire(old, new.spec.server.graceful_timeout))
        self._retiring.add(retire)
        retire.add_done_callback(self._retiring.discard)
        seconds = time.perf_counter() - prepared.started
        components = "; ".join(f"{label} {', '.join(names)}" for label, names in
                               (("kept", kept), ("new", built), ("closing", closing)) if names)
        message = (f"reloaded to generation {new.generation} in {seconds * 1000:.0f} ms: {'; '.join(changes.lines())}"
                   + (f"; components: {components}" if components else ""))
        log.info("%s", message)
        return ReloadReport(True, new.generation, seconds, message, changes)

    async def discard(self, prepared: Prepared) -> None:
        """Close a prepared Graph that will not be swapped in (another worker's build failed)."""
        log.info("reload: discarding the prepared generation %d", prepared.graph.generation)
        await prepared.graph.close(timeout=0)

    async def _retire(self, old: Graph, timeout: float) -> None:
        """Close the old Graph once its calls are done; past `timeout`, cancel what still runs on it."""
        if not await old.wait_idle(timeout):
            cancelled = sum(session.cancel_calls_on(old) for session in list(self.holder.sessions))
            log.warning("reload: cancelled %d call(s) still running on generation %d after %gs",
                        cancelled, old.generation, timeout)
        await old.close(timeout=5)

    async def close(self) -> None:
        await self.wait()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)


def preimport(spec: ConfigSpec) -> None:
    """Import every module a python tool, resource or prompt of `spec` names (errors left to build)."""
    references = [getattr(t, "function", None) for t in spec.tools.values()]
    references += [r.function for r in spec.resources.values()] + [p.function for p in spec.prompts.values()]
    base = str(spec.base_dir)
    if base not in sys.path:
        sys.path.insert(0, base)
    for module in {ref.partition(":")[0] for ref in references if isinstance(ref, str)}:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


