"""Worker threads for synchronous python tools.

Why not ThreadPoolExecutor: the interpreter joins its workers at exit, so one sync call abandoned
after its timeout (a thread cannot be interrupted) would keep the server from ever exiting. These
workers are daemon threads: at exit they are dropped with whatever they were doing.

Contract:
- At most `size` workers run jobs for callers still waiting, plus one per job abandoned by its caller
  (timed out or cancelled) while it runs: each abandoned job's worker is replaced at once, so hung calls
  cannot starve the other sync tools. At most `size` workers are replaced (`max_lost`); past that, hung
  calls hold workers again, and that is logged.
- When an abandoned job finishes, its replacement is withdrawn: the worker that finds the pool over its
  capacity exits. `lost` (now) and `replaced` (in total) are read by `webmcp status` and /metrics.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

log = logging.getLogger(__name__)

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class WorkerThreads(Executor):
    def __init__(self, size: int, name: str = "webmcp-tool") -> None:
        self._size = size
        self.max_lost = size
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        self._abandoned: set[Future[Any]] = set()  # running jobs whose callers gave up
        self.busy = 0  # workers running a job now
        self.replaced = 0  # workers replaced because an abandoned job held them, in total

    @property
    def lost(self) -> int:
        """Workers held by abandoned jobs now."""
        return len(self._abandoned)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("worker threads are shut down")
        future: Future[Any] = Future()
        self._jobs.put((future, fn, args, kwargs))
        if not self._idle.acquire(timeout=0):
            with self._lock:
                if len(self._threads) < self._size + min(self.lost, self.max_lost):
                    self._start()
        return future

    def abandon(self, future: Future[Any]) -> None:
        """The caller of `future` gave up while it runs (its thread cannot be interrupted): replace its
        worker, up to `max_lost` workers."""
        with self._lock:
            if future.done() or future in self._abandoned or self._closed:
                return
            self._abandoned.add(future)
            if self.lost > self.max_lost:
                log.warning("%d sync tool calls that timed out or were cancelled still hold worker threads; "
                            "no more are replaced (at most %d): other sync tools may wait for them",
                            self.lost, self.max_lost)
                return
            self.replaced += 1
            self._start()
        log.warning("a sync tool call that timed out or was cancelled still holds its worker thread: "
                    "replaced (%d held now, at most %d replaced)", self.lost, self.max_lost)

    def _start(self) -> None:
        """A new worker (the lock is held)."""
        thread = threading.Thread(target=self._work, name=f"{self._name}-{next(self._numbers)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            retire = False
            if future.set_running_or_notify_cancel():
                with self._lock:
                    self.busy += 1
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    with self._lock:
                        self.busy -= 1
                        self._abandoned.discard(future)
                        # Over capacity once an abandoned job ends: its replacement is withdrawn (this worker).
                        retire = len(self._threads) > self._size + min(self.lost, self.max_lost)
                        if retire:
                            self._threads.remove(threading.current_thread())
            del job, future  # drop references before waiting for the next job
            if retire:
                return
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)
        if self.busy:
            log.warning("%d sync tool call(s) still running in worker threads; they are abandoned", self.busy)
