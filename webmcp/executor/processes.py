"""Worker processes for CPU-bound python tools (`isolation: process`).

Contract:
- One pool per `executor.processes` setting, started on first use with the spawn method (a clean
  interpreter: no inherited threads, event loop or protocol pipes), shared by every isolated tool
  of a Graph and kept across reloads that leave the setting alone. Edited tool modules still take
  effect: each job carries its module file's stamp (mtime, size), and a worker that sees a new stamp
  imports the user's modules afresh.
- A job is (function reference, config folder, stamp, keyword arguments, timeout), sent by pickle;
  the return value comes back by pickle. Whatever cannot be pickled, or any exception, comes back
  as an exception, which the Tool turns into an isError result.
- No runaway worker: each job arms SIGALRM for the tool's timeout, which interrupts Python code
  (and sleeps) in the worker; for C code that never lets a signal handler run, the job also lowers
  the worker's CPU-time limit (RLIMIT_CPU) to what it has used plus the timeout plus `GRACE`, past
  which the kernel kills the worker. The pool then breaks, its running calls fail with an isError
  result, and the next job starts a new pool. A call cancelled by its client before a worker took
  it never runs; once running, it runs until it ends or its timeout interrupts it.
- Closing (the last Graph using the pool closes: a reload that drops it, or shutdown) cancels
  queued jobs and terminates the workers.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)

GRACE = 2.0  # CPU seconds past the timeout before the kernel kills a worker stuck in C code

Stamp = tuple[int, int]  # the module file's (mtime_ns, size)


class WorkerProcesses:
    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: ProcessPoolExecutor | None = None

    def submit(
        self, reference: str, base_dir: str, stamp: Stamp, kwargs: dict[str, Any], timeout: float
    ) -> Future[Any]:
        job = (reference, base_dir, stamp, kwargs, timeout)
        try:
            return self._executor().submit(run_job, *job)
        except BrokenProcessPool:  # a worker was killed (its CPU limit, or from outside): start afresh
            log.warning("worker process pool broke (a worker was killed); starting a new one")
            self._terminate()
            return self._executor().submit(run_job, *job)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor has no public way to stop running workers (terminate_workers() is Python 3.14).
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()

    def close(self) -> None:
        self._terminate()


def module_stamp(reference: str) -> Stamp:
    """The stamp of the module file `reference` (package.module:attr) was imported from."""
    module = sys.modules.get(reference.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not path:
        return (0, 0)
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


# -- in the worker process -------------------------------------------------------------------

_functions: dict[str, tuple[Stamp, Callable[..., Any]]] = {}


class WorkerTimeout(Exception):
    pass


def _interrupt(signum: int, frame: Any) -> None:
    raise WorkerTimeout("interrupted in its worker process at the tool's timeout")


def _function(reference: str, base_dir: str, stamp: Stamp) -> Callable[..., Any]:
    cached = _functions.get(reference)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    from pathlib import Path

    from webmcp.executor.user_code import forget_user_modules, resolve_function

    if cached is not None:  # the file changed since this worker imported it
        forget_user_modules(Path(base_dir))
        _functions.clear()
    fn = resolve_function(reference, base_dir)
    _functions[reference] = (stamp, fn)
    return fn


def run_job(reference: str, base_dir: str, stamp: Stamp, kwargs: dict[str, Any], timeout: float) -> Any:
    fn = _function(reference, base_dir, stamp)
    signal.signal(signal.SIGALRM, _interrupt)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = math.ceil(usage.ru_utime + usage.ru_stime + timeout + GRACE)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(**kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
