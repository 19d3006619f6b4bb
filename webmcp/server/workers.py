"""The supervisor's side of its workers (server/supervisor.py): the record of one worker, asking it
something, and reloading them all.

Contract of a reload (`Reloads`):
- Single-flight: requests during a reload collapse into one more reload after it; each report says up to
  which request it answers (`covers`), as a single server's does.
- One text: the supervisor reads the file once per reload; every worker builds from that text.
- Two phases: every ready worker builds the next generation (`prepare`) without swapping; only when all
  succeeded do they swap (`commit`); otherwise the ones that built it discard it (`abort`) and every worker
  stays on the old generation. The report has each worker's outcome.
- A worker that comes up during a reload (a replacement, started on the generation before) is brought to
  the current generation (`catch_up`) before it counts as ready, so it never misses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webmcp.config.spec import ConfigSpec
from webmcp.errors import ConfigError, Problem
from webmcp.server.worker_channel import Channel

log = logging.getLogger(__name__)

PREPARE_TIMEOUT = 120.0  # a worker's build of the next generation (models may load)
COMMIT_TIMEOUT = 30.0


@dataclass(slots=True)
class Worker:
    index: int  # its slot, 1..N; a replacement takes the slot of the worker it replaces
    proc: subprocess.Popen[bytes]
    channel: Channel
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    pinging: bool = False  # a health ping is waiting for its answer (one at a time)
    generation: int = 0
    live: dict[str, Any] | None = None  # its last status snapshot (from the health ping)
    recent: list[Any] | None = None  # its targets window's slots (telemetry/targets.Window.recent), same ping
    cpu: tuple[float, float] | None = None  # (monotonic, CPU seconds) when the autoscaler last looked

    @property
    def name(self) -> str:
        return f"worker {self.index} (pid {self.proc.pid})"


async def ask(worker: Worker, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
    """A worker's answer, or a failed one saying why there is none."""
    try:
        return await worker.channel.ask(op, timeout, **fields)
    except TimeoutError:
        return {"ok": False, "message": f"no answer to {op} within {timeout:g}s"}
    except ConnectionError:
        return {"ok": False, "message": f"exited before answering {op}"}


Reported = Callable[[dict[str, Any], ConfigSpec | None, dict[str, Any] | None], None]


class Reloads:
    def __init__(self, source: str, load: Callable[[str], ConfigSpec], ready: Callable[[], list[Worker]],
                 on_request: Callable[[int], None], on_report: Reported) -> None:
        """`load(text)`: the config from a text of the file at `source`; `ready()`: the workers that take part;
        `on_report(report, spec or None, summary or None)` after each reload."""
        self._source = source
        self._load = load
        self._ready = ready
        self._on_request = on_request
        self._on_report = on_report
        self.generation = 1
        self.text = ""  # the file's text of the current generation, which every worker loads
        self.requested = 0
        self.last: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._reported = asyncio.Event()

    def read(self) -> str:
        try:
            with open(self._source, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as exc:
            problem = Problem(self._source, None, None, "", f"cannot read the config file: {exc}")
            raise ConfigError([problem]) from None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def request(self) -> int:
        """Ask for a reload of every worker; returns at once with the request's number."""
        self.requested += 1
        self._on_request(self.requested)
        if self._task is not None and not self._task.done():
            self._again = True
        else:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self.requested

    async def now(self) -> dict[str, Any]:
        """Request a reload and wait for the report covering it (a worker's POST /admin/reload)."""
        mine = self.request()
        while self.last is None or self.last["covers"] < mine:
            await self._reported.wait()
        return self.last

    async def _run(self) -> None:
        while True:
            self._again = False
            covers = self.requested
            report, spec, summary = await self._reload()
            report["covers"] = covers
            self.last = report
            self._on_report(report, spec, summary)
            self._reported.set()
            self._reported = asyncio.Event()
            if not self._again:
                return

    async def _reload(self) -> tuple[dict[str, Any], ConfigSpec | None, dict[str, Any] | None]:
        started = time.perf_counter()
        workers = self._ready()
        old, new = self.generation, self.generation + 1
        try:
            text = await asyncio.get_running_loop().run_in_executor(None, self.read)
        except ConfigError as exc:
            return _report(False, old, started, f"kept generation {old} on every worker: {exc}", []), None, None
        prepared = await asyncio.gather(*(ask(w, "prepare", PREPARE_TIMEOUT, generation=new, text=text)
                                          for w in workers))
        failed = [w for w, answer in zip(workers, prepared, strict=True) if not answer.get("ok")]
        if failed or not workers:
            built = [w for w, answer in zip(workers, prepared, strict=True) if answer.get("ok")]
            await asyncio.gather(*(ask(w, "abort", COMMIT_TIMEOUT) for w in built))
            lines = [_line(w, False, old, answer["message"] if w in failed else
                           f"kept generation {old}: its build of generation {new} was discarded, as "
                           f"{failed[0].name} failed") for w, answer in zip(workers, prepared, strict=True)]
            head = (f"kept generation {old} on every worker: the new config failed in {len(failed)} of "
                    f"{len(workers)}" if workers else f"kept generation {old}: no worker is ready")
            log.error("reload failed: %s", head)
            return _report(False, old, started, head, lines), None, None
        committed = await asyncio.gather(*(ask(w, "commit", COMMIT_TIMEOUT) for w in workers))
        self.generation, self.text = new, text
        lines, changes, summary = [], None, None
        for worker, answer in zip(workers, committed, strict=True):
            report = answer.get("report") or {"ok": False, "generation": old, "message": answer.get("message")}
            changes = changes or report.get("changes")
            summary = summary or answer.get("summary")
            worker.generation = report["generation"]
            lines.append(_line(worker, report["ok"], report["generation"], report["message"]))
        ok = all(line["ok"] for line in lines)
        spec = None
        with contextlib.suppress(Exception):  # the workers built this text; the supervisor reads a few settings
            spec = await asyncio.get_running_loop().run_in_executor(None, self._load, text)
        head = (f"reloaded {len(workers)} worker(s) to generation {new}" if ok
                else f"generation {new}: some workers did not confirm the swap")
        log.info("%s", head)
        return _report(ok, new, started, head, lines, changes), spec, summary

    async def catch_up(self, worker: Worker, stopping: Callable[[], bool]) -> bool:
        """Bring a worker that has just come up to the current generation (it said hello before a reload
        committed); False when it cannot load it (the caller stops it)."""
        while worker.generation != self.generation and not stopping():
            target, text = self.generation, self.text
            log.info("%s started on generation %d; bringing it to %d", worker.name, worker.generation, target)
            answer = await ask(worker, "prepare", PREPARE_TIMEOUT, generation=target, text=text)
            if answer.get("ok"):
                answer = await ask(worker, "commit", COMMIT_TIMEOUT)
            if not answer.get("ok"):
                log.error("%s cannot load generation %d: %s", worker.name, target, answer.get("message"))
                return False
            worker.generation = target
        return True


def _line(worker: Worker, ok: bool, generation: int, message: str) -> dict[str, Any]:
    return {"index": worker.index, "pid": worker.proc.pid, "ok": ok, "generation": generation, "message": message}


def _report(ok: bool, generation: int, started: float, head: str, lines: list[dict[str, Any]],
            changes: Any = None) -> dict[str, Any]:
    message = "\n".join([head, *(f"  worker {w['index']} (pid {w['pid']}): {w['message']}" for w in lines)])
    return {"ok": ok, "generation": generation, "seconds": round(time.perf_counter() - started, 4),
            "message": message, "changes": changes, "workers": lines, "covers": 0}
