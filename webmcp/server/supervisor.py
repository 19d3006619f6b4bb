"""The supervisor of `webmcp serve --workers N` (`scaling.workers`): worker processes on one socket.

The supervisor binds the listening socket; each worker inherits it (`pass_fds`) and serves HTTP on it
(server/worker.py), so the kernel queues every connection once and hands it to one worker, and a
worker that stops leaves no queued connection behind (unlike one SO_REUSEPORT socket per worker).
Workers are spawned fresh (`python -m webmcp serve ... --worker I:LISTEN_FD:CHANNEL_FD`, or the frozen
binary), never forked from this process, and each has a control channel (server/worker_channel.py).

Contract:
- Signals only record what was asked; the event loop acts (`handle_<sig>`).
- Every worker must start the first time: one that exits before it is ready stops the supervisor with
  its exit code (a build error is not retried forever). Later, a worker that exits, or does not answer
  a health ping within HEALTH_TIMEOUT (then it is killed), is replaced, with exponential back-off
  while replacements keep failing.
- Reloads (server/workers.Reloads) are single-flight and two-phase: every worker builds the next
  generation from one text of the file, and they swap only when all succeeded; a bad file leaves every
  worker on the old generation. A worker started later loads the text of the current generation.
- Stopping: SIGTERM to every worker (each drains within server.graceful_timeout); what is left after
  graceful_timeout + STRAGGLER_GRACE is killed. A second SIGTERM/SIGINT is passed on (the workers
  cancel their calls at once).
- The supervisor alone has a run file; its status lists the workers (`webmcp reload`, `webmcp status`).
- Autoscaling (min < max, server/autoscale.py) runs on its own timer and only reads what the health
  pings brought back. Scaling up starts workers in the free slots; scaling down retires the highest slots:
  a retired worker stops taking connections (the others take the queue), finishes its requests within
  graceful_timeout and exits; it is not replaced.
- /metrics is the merge of every worker's (server/aggregate.py); alerts (`telemetry.alerts`) are sent by
  the supervisor from the targets over all the workers' calls, never by the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil

from webmcp.config.layers import Override
from webmcp.config.spec import ConfigSpec
from webmcp.errors import TransportUnavailable, WebmcpError
from webmcp.server import aggregate, watch
from webmcp.server.autoscale import INTERVAL as AUTOSCALE_INTERVAL
from webmcp.server.autoscale import Autoscaler, accept_backlog
from webmcp.server.cache_requests import serve_requests_with
from webmcp.server.runfiles import RunFile
from webmcp.server.session_host import SessionHost
from webmcp.server.worker_channel import Channel
from webmcp.server.workers import Reloads, Worker, ask
from webmcp.status.snapshot import INTERVAL as STATUS_INTERVAL
from webmcp.telemetry import stats
from webmcp.telemetry.alerts import Alerts
from webmcp.telemetry.targets import merge

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 1.0  # a ping to each ready worker this often (its answer carries the worker's status)
HEALTH_TIMEOUT = 10.0  # no answer for this long: the worker is stuck; it is killed and replaced
STRAGGLER_GRACE = 5.0  # past graceful_timeout, for the workers' own cancel-and-unwind, before SIGKILL
STABLE_AFTER = 10.0  # a worker up this long resets the back-off of its slot
MAX_BACKOFF = 30.0


class WorkerStartFailed(WebmcpError):
    exit_code = 1

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code if exit_code in (2, 3, 4) else 1


def self_command() -> list[str]:
    """How to start webmcp again: the binary itself when frozen (PyInstaller), else this Python."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "webmcp"]


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker inherits."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise TransportUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class Supervisor:
    def __init__(self, spec: ConfigSpec, load: Callable[[str], ConfigSpec], argv: Sequence[str],
                 overrides: Sequence[Override] = ()) -> None:
        """`load(text)`: the config from that text of the file (same overrides); `argv`: how to start a worker
        (`webmcp serve -c FILE` and the flags given), without `--worker`."""
        wanted = spec.scaling.workers
        assert wanted is not None
        self.spec = spec
        self.bounds = wanted
        self._argv = list(argv)
        self.count = wanted.min  # the slots 1..count have a worker (or one is on its way)
        self.workers: dict[int, Worker] = {}
        self.retiring: dict[int, Worker] = {}  # by pid; scaled down: draining, then gone; never replaced
        self.autoscaler = (Autoscaler(wanted, spec.scaling.p95_latency, spec.scaling.window) if wanted.autoscaled
                           else None)
        self.metrics = aggregate.MetricsView()
        self.alerts: Alerts | None = None
        self._state_key = secrets.token_hex(32)
        self._stop = asyncio.Event()
        self._failures = dict.fromkeys(range(1, wanted.max + 1), 0)  # failed starts in a row, per slot
        self._tasks: set[asyncio.Task[Any]] = set()
        self.reloads = Reloads(spec.source, load, self._ready_workers, self._on_request, self._on_report)
        self._started = time.time()
        self._run_file = RunFile.for_process(spec.source, spec.server.pid_file)
        http = spec.server.http
        self.session_host = SessionHost(http.session_idle_timeout, http.max_sessions,
                                        lambda: {str(w.proc.pid): w.channel for w in self.workers.values()})
        self._listener: socket.socket | None = None
        self.status: dict[str, Any] = {
            "config": spec.source, "generation": 1, "reloads": 0, "requested": 0, "last": None, "summary": None,
            "overrides": [dataclasses.asdict(o) for o in overrides], "live": None}

    # -- signals -----------------------------------------------------------------------------
    def dispatch(self, sig: signal.Signals) -> None:
        getattr(self, f"handle_{sig.name[3:].lower()}")()

    def handle_term(self) -> None:
        """SIGTERM: stop every worker gracefully (each drains within graceful_timeout). A second one is
        passed on: the workers cancel their running calls at once."""
        if self._stop.is_set():
            log.warning("second stop signal: the workers cancel their running calls")
            self._signal_all(signal.SIGTERM)
        self._stop.set()

    def handle_int(self) -> None:
        """SIGINT: same as SIGTERM."""
        self.handle_term()

    def handle_hup(self) -> None:
        """SIGHUP: reload every worker (two-phase); a bad file keeps all of them on the running config."""
        if self._stop.is_set():
            log.info("SIGHUP ignored: stopping")
            return
        log.info("SIGHUP: reloading every worker")
        self.reloads.request()

    def handle_usr1(self) -> None:
        """SIGUSR1: apply `webmcp cache clear` requests left next to the run file, in every worker."""
        self._spawn_task(serve_requests_with(self._run_file.pid_path.parent, self._clear_everywhere))

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        http = self.spec.server.http
        listener = bind(http.host, http.port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            loop.add_signal_handler(sig, self.dispatch, sig)
        try:
            baseline = watch.digest(self.spec.source) if self.spec.server.watch else None
            self.reloads.text = self.reloads.read()
            self._run_file.create(self.status)
            self._listener = listener
            for index in range(1, self.count + 1):
                self._spawn(index)
            await self._until_all_ready()
            port = listener.getsockname()[1]
            log.info("serving on http://%s:%d%s with %d worker(s): pids %s; reload with SIGHUP or `webmcp reload "
                     "-c %s`", http.host, port, http.path, self.count,
                     ", ".join(str(w.proc.pid) for w in self.workers.values()), self.spec.source)
            self._spawn_task(self._watch())
            self._spawn_task(self._keep_status())
            self._spawn_task(self._sweep_sessions())
            if self.spec.server.watch:  # server.watch: a change of the file is a SIGHUP (server/watch.py)
                self._spawn_task(watch.watch(self.spec.source, self.handle_hup, self._stop, baseline))
            if self.autoscaler is not None:
                self._spawn_task(self._autoscale())
            self.alerts = Alerts(lambda: self.spec.telemetry.alerts, lambda: self.spec.server.name,
                                 lambda: self.spec.scaling.window)
            await self._stop.wait()
        finally:
            await self._stop_all()
            if self.alerts is not None:
                await self.alerts.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._run_file.remove()
            listener.close()

    def _spawn(self, index: int) -> None:
        assert self._listener is not None
        listen_fd = self._listener.fileno()
        ours, theirs = socket.socketpair()
        argv = [*self._argv, "--worker", f"{index}:{listen_fd}:{theirs.fileno()}"]
        try:
            # A process group of its own: a terminal's Ctrl-C reaches the supervisor only, which stops the
            # workers in order.
            proc = subprocess.Popen(argv, pass_fds=(listen_fd, theirs.fileno()), process_group=0)
        except OSError as exc:
            ours.close()
            raise WorkerStartFailed(f"cannot start worker {index}: {exc}", 1) from None
        finally:
            theirs.close()
        worker = Worker(index, proc, Channel(ours, lambda message: self._handle(worker, message), ""))
        worker.channel.name = worker.name
        self.workers[index] = worker
        self._spawn_task(worker.channel.start())

    async def _until_all_ready(self) -> None:
        while not all(w.ready for w in self.workers.values()):
            if self._stop.is_set():
                return
            for worker in self.workers.values():
                code = worker.proc.poll()
                if code is not None:
                    raise WorkerStartFailed(f"{worker.name} failed to start (exit code {code}); its error is above",
                                            code)
            await asyncio.sleep(0.05)

    async def _watch(self) -> None:
        """Replace workers that exit; ping the ready ones."""
        pinged = 0.0
        while not self._stop.is_set():  # once stopping, _stop_all waits for the workers; none is replaced
            for worker in list(self.workers.values()):
                code = worker.proc.poll()
                if code is not None and self.workers.get(worker.index) is worker:
                    self._replace(worker, code)
            if time.monotonic() - pinged >= HEALTH_INTERVAL:
                pinged = time.monotonic()
                for worker in self.workers.values():
                    if worker.ready and not worker.pinging:
                        worker.pinging = True
                        self._spawn_task(self._ping(worker))
            await asyncio.sleep(0.1)

    def _replace(self, worker: Worker, code: int) -> None:
        del self.workers[worker.index]
        self.metrics.gone(worker.proc.pid)
        self._spawn_task(worker.channel.close())
        up = time.monotonic() - worker.started
        if up >= STABLE_AFTER and worker.ready:
            self._failures[worker.index] = 0
        failures = self._failures[worker.index]
        delay = 0.0 if failures == 0 else min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
        self._failures[worker.index] = failures + 1
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if failures >= 3:
            log.error("%s %s after %.1fs; worker %d keeps failing (%d times in a row): next try in %.1fs",
                      worker.name, how, up, worker.index, failures + 1, delay)
        else:
            log.warning("%s %s after %.1fs; starting a new one%s", worker.name, how, up,
                        f" in {delay:.1f}s" if delay else "")

        self._spawn_task(self._respawn(worker.index, delay))

    async def _respawn(self, index: int, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            if self._stop.is_set() or index > self.count or index in self.workers:
                return  # stopping, or the slot was scaled away (or filled by a scale-up) meanwhile
            try:
                self._spawn(index)
                return
            except WorkerStartFailed as exc:  # cannot even exec (out of processes or memory): try again later
                delay = min(MAX_BACKOFF, max(0.5, delay * 2))
                log.error("%s; next try in %.1fs", exc, delay)

    async def _ping(self, worker: Worker) -> None:
        try:
            answer = await worker.channel.ask("ping", HEALTH_TIMEOUT)
        except TimeoutError:
            worker.pinging = False
            if worker.proc.poll() is None and not self._stop.is_set():
                log.error("%s did not answer a health ping within %gs: killing it", worker.name, HEALTH_TIMEOUT)
                worker.proc.kill()
            return
        except ConnectionError:
            return  # it exited; _watch replaces it
        worker.pinging = False
        worker.generation = answer.get("generation", worker.generation)
        worker.live = answer.get("live")
        worker.recent = answer.get("recent")

    async def _handle(self, worker: Worker, message: dict[str, Any]) -> dict[str, Any] | None:
        op = message.get("op")
        if op == "hello":
            return {"generation": self.reloads.generation, "state_key": self._state_key, "text": self.reloads.text}
        if op == "ready":
            worker.generation, worker.live = message["generation"], message.get("live")
            if self.status["summary"] is None:
                self.status["summary"] = message.get("summary")
            if await self.reloads.catch_up(worker, self._stop.is_set):
                worker.ready = True
            else:
                worker.proc.kill()
            return None
        if isinstance(op, str) and op.startswith("session_"):
            return self.session_host.handle(str(worker.proc.pid), message)
        if op == "reload_all":
            return {"report": await self.reloads.now()}
        if op == "cache_clear_all":
            return await self._clear_everywhere(message["request"], but=message.get("but"))
        if op == "metrics_all":
            body, content_type = await self._metrics()
            return {"ok": True, "body": body.decode(), "content_type": content_type}
        if op == "last_metrics":  # a worker stopping: its counts are kept in the merged /metrics
            self.metrics.gone(worker.proc.pid, message.get("families"))
            return None
        return {"ok": False, "message": f"unknown request {op!r}"}

    async def _sweep_sessions(self) -> None:
        """Forget the session records no worker used for session_idle_timeout."""
        while True:
            await asyncio.sleep(max(1.0, min(self.spec.server.http.session_idle_timeout / 4, 60.0)))
            self.session_host.sweep()

    def _ready_workers(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.ready]

    def _on_request(self, requested: int) -> None:
        self.status["requested"] = requested  # at once: `webmcp reload` waits for a report covering its request
        self._write_status()

    def _on_report(self, report: dict[str, Any], spec: ConfigSpec | None, summary: dict[str, Any] | None) -> None:
        if spec is not None:  # graceful_timeout may have changed
            self.spec = spec
            wanted = spec.scaling.workers
            if wanted is not None and wanted != self.bounds:
                asked = wanted.max if not wanted.autoscaled else f"{wanted.min}..{wanted.max}"
                running = self.count if self.autoscaler is None else f"{self.bounds.min}..{self.bounds.max}"
                note = f"ignored until restart: scaling.workers ({running} running, {asked} asked)"
                head, _, rest = report["message"].partition("\n")
                report["message"] = f"{head}; {note}" + (f"\n{rest}" if rest else "")
        if summary is not None:
            self.status["summary"] = summary
        self.status.update(generation=self.reloads.generation, reloads=self.status["reloads"] + 1, last=report)
        self._write_status()

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _clear_everywhere(self, request: dict[str, Any], but: int | None = None) -> dict[str, Any]:
        """A cache-clear request applied in every worker's memory caches (but the one that asked)."""
        workers = [w for w in self.workers.values() if w.ready and w.proc.pid != but]
        answers = await asyncio.gather(*(ask(w, "cache_clear", 30.0, request=request) for w in workers))
        failed = [f"{w.name}: {a.get('message')}" for w, a in zip(workers, answers, strict=True) if not a.get("ok")]
        out: dict[str, Any] = {"ok": not failed, "dropped": sum(a.get("dropped", 0) for a in answers),
                               "caches": sorted({c for a in answers for c in a.get("caches", [])}),
                               "workers": [{"pid": w.proc.pid, "dropped": a.get("dropped")}
                                           for w, a in zip(workers, answers, strict=True)]}
        if failed:
            out["error"] = "; ".join(failed)
        return out

    # -- autoscaling, metrics, alerts -------------------------------------------------------
    async def _autoscale(self) -> None:
        """The policy loop: a decision every AUTOSCALE_INTERVAL from what the health pings brought back."""
        scaler = self.autoscaler
        assert scaler is not None and self._listener is not None
        while not self._stop.is_set():
            await asyncio.sleep(AUTOSCALE_INTERVAL)
            if self._stop.is_set():
                return
            if self.reloads.running:  # a worker retired mid-reload would fail it; the next tick decides
                continue
            try:
                self._scale(scaler)
            except Exception:  # a bug here must not end autoscaling, nor the supervisor
                log.exception("autoscaling failed; trying again in %gs", AUTOSCALE_INTERVAL)

    def _scale(self, scaler: Autoscaler) -> None:
        """One decision, acted on: workers started in the free slots, or the highest slots retired."""
        assert self._listener is not None
        ready = [w for w in self.workers.values() if w.ready]
        load = sum((w.live or {}).get("in_flight", 0) + sum(((w.live or {}).get("queue") or {}).values())
                   for w in ready)
        recent = merge((w.recent or [] for w in ready), scaler.recent)
        wanted = scaler.decide(time.monotonic(), self.count, self.count - len(ready), load,
                               accept_backlog(self._listener), recent.p95 if recent.calls else None, _cpu(ready))
        if wanted > self.count:
            self.count = wanted
            for index in range(1, wanted + 1):
                if index not in self.workers:
                    try:
                        self._spawn(index)
                    except WorkerStartFailed as exc:
                        log.error("%s; next try in 0.5s", exc)
                        self._spawn_task(self._respawn(index, 0.5))
        elif wanted < self.count:
            self.count = wanted
            for worker in [w for w in self.workers.values() if w.index > wanted]:
                self._retire(worker)
        self._write_status()

    def _retire(self, worker: Worker) -> None:
        """Scaled down: the worker stops taking connections, finishes its requests and exits."""
        del self.workers[worker.index]
        self.retiring[worker.proc.pid] = worker
        worker.channel.notify("retire")
        self._spawn_task(self._reap(worker))

    async def _reap(self, worker: Worker) -> None:
        deadline = time.monotonic() + self.spec.server.graceful_timeout + STRAGGLER_GRACE
        while worker.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if worker.proc.poll() is None:
            log.error("%s did not stop in time after it was scaled down: killing it", worker.name)
            worker.proc.kill()
            await asyncio.get_running_loop().run_in_executor(None, worker.proc.wait)
        else:
            log.info("%s stopped (scaled down), exit code %s", worker.name, worker.proc.returncode)
        await worker.channel.close()
        self.metrics.gone(worker.proc.pid)
        self.retiring.pop(worker.proc.pid, None)

    async def _metrics(self) -> tuple[bytes, str]:
        """/metrics of the whole server: every ready worker's, merged, and the supervisor's own."""
        ready = sorted((w for w in self.workers.values() if w.ready), key=lambda w: w.index)
        answers = await asyncio.gather(*(ask(w, "metrics", 10.0) for w in ready))
        got = [(w.index, w.proc.pid, a["families"]) for w, a in zip(ready, answers, strict=True) if a.get("ok")]
        own = aggregate.own_families(len(self.workers), len(self.retiring), self.autoscaler,
                                     aggregate.targets(self.spec.scaling, ready), stats.ALERTS)
        return self.metrics.exposition(got, own)

    # -- status and stopping -----------------------------------------------------------------
    def _write_status(self) -> None:
        ready = [w for w in self.workers.values() if w.ready]
        found = aggregate.targets(self.spec.scaling, ready)
        if self.alerts is not None:
            self.alerts.observe(found)
        self.status["live"] = {
            "pid": os.getpid(), "time": time.time(), "uptime": round(time.time() - self._started, 3),
            "generation": self.reloads.generation,
            "workers": [{"index": w.index, "pid": w.proc.pid, "ready": w.ready, "generation": w.generation,
                         "live": w.live} for w in sorted(self.workers.values(), key=lambda w: w.index)],
            "stopping": [{"index": w.index, "pid": w.proc.pid}
                         for w in sorted(self.retiring.values(), key=lambda w: w.index)],
            "targets": [{"name": t.name, "goal": t.goal, "value": t.value, "violated": t.violated} for t in found],
            "autoscaling": self.autoscaler.status() if self.autoscaler is not None else None}
        try:
            self._run_file.write_status(self.status)
        except OSError as exc:  # a full disk must not stop the supervisor
            log.error("cannot write %s: %s", self._run_file.status_path, exc)

    async def _keep_status(self) -> None:
        while True:
            self._write_status()
            await asyncio.sleep(STATUS_INTERVAL)

    def _signal_all(self, sig: signal.Signals) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(sig)

    async def _stop_all(self) -> None:
        """SIGTERM every worker; SIGKILL what is left after graceful_timeout + STRAGGLER_GRACE."""
        self._stop.set()
        workers = [*self.workers.values(), *self.retiring.values()]  # the retiring ones drain already: not signalled
        if not workers:
            return
        log.info("stopping %d worker(s); calls under way get %gs", len(workers), self.spec.server.graceful_timeout)
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.spec.server.graceful_timeout + STRAGGLER_GRACE
        while any(w.proc.poll() is None for w in workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for worker in workers:
            if worker.proc.poll() is None:
                log.error("%s did not stop in time: killing it", worker.name)
                worker.proc.kill()
                worker.proc.wait()
        for worker in workers:
            await worker.channel.close()


def _cpu(workers: list[Worker]) -> float | None:
    """The workers' mean share of a core since the last look (each one's user + system CPU time, psutil);
    None until a worker has been looked at twice."""
    now = time.monotonic()
    shares = []
    for worker in workers:
        try:
            times = psutil.Process(worker.proc.pid).cpu_times()
        except psutil.Error:
            continue
        seconds = times.user + times.system
        if worker.cpu is not None and now > worker.cpu[0]:
            shares.append((seconds - worker.cpu[1]) / (now - worker.cpu[0]))
        worker.cpu = (now, seconds)
    return sum(shares) / len(shares) if shares else None


def supervise(spec: ConfigSpec, load: Callable[[str], ConfigSpec], argv: Sequence[str],
              overrides: Sequence[Override] = ()) -> None:
    """Run the supervisor until it is stopped; WorkerStartFailed when a worker cannot start the first time."""
    asyncio.run(Supervisor(spec, load, argv, overrides).run())
