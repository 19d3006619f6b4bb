"""Running a server: build the graph, serve a transport, reload on SIGHUP, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from webmcp.config.layers import Override
from webmcp.config.spec import ConfigSpec
from webmcp.errors import TransportUnavailable, count
from webmcp.graph.build import build
from webmcp.graph.holder import GraphHolder
from webmcp.server import watch
from webmcp.server.cache_requests import serve_requests
from webmcp.server.diff import summarize
from webmcp.server.reload import Reloader, ReloadReport
from webmcp.server.runfiles import RunFile
from webmcp.status.components import components, serve_state_of
from webmcp.status.snapshot import INTERVAL as STATUS_INTERVAL
from webmcp.status.snapshot import snapshot
from webmcp.telemetry.alerts import Alerts

if TYPE_CHECKING:
    from webmcp.server.worker import WorkerLink
    from webmcp.transports.session_store import SessionStore

log = logging.getLogger(__name__)

TELEMETRY_CONNECTIONS = 64  # open connections at most on telemetry.listen (16 from one address)
RETIRE_GRACE = 2.0  # a worker scaled down closes the connections that sent nothing this long (_Retirement)


class Lifecycle:
    """What the process does on each signal. Handlers run on the event loop (asyncio's signal
    handling), record what was asked for, and the serving code acts on it."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()  # stop taking requests; running calls may finish
        self.force = asyncio.Event()  # stop now: cancel running calls
        self.reload: Callable[[], None] = lambda: None
        self.cache_clear: Callable[[], None] = lambda: None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            loop.add_signal_handler(sig, self.dispatch, sig)

    def dispatch(self, sig: signal.Signals) -> None:
        getattr(self, f"handle_{sig.name[3:].lower()}")()

    def handle_term(self) -> None:
        """SIGTERM: stop reading requests; running calls get `graceful_timeout` to finish. A second
        SIGTERM or SIGINT cancels them at once."""
        if self.stop.is_set():
            log.warning("second stop signal: cancelling running calls")
            self.force.set()
        self.stop.set()

    def handle_int(self) -> None:
        """SIGINT: same as SIGTERM."""
        self.handle_term()

    def handle_hup(self) -> None:
        """SIGHUP: reload the config file (server/reload.py); a bad file keeps the running config.
        Ignored once the server is stopping."""
        if self.stop.is_set():
            log.info("SIGHUP ignored: the server is stopping")
            return
        log.info("SIGHUP: reloading")
        self.reload()

    def handle_usr1(self) -> None:
        """SIGUSR1: apply the cache-clear requests `webmcp cache clear` left next to the run file."""
        self.cache_clear()


def run(spec: ConfigSpec, load: Callable[[], ConfigSpec], overrides: Sequence[Override] = (),
        worker: WorkerLink | None = None, toolset: str | None = None) -> None:
    """Serve `spec`; `load` reads the config again (same file and overrides) for reloads. `overrides` (the
    flags and WEBMCP_* variables `spec` was loaded with) go to the run file, for `validate --diff`. `worker`:
    this process is a worker of a supervisor (server/worker.py), serving HTTP on the socket it inherited.
    `toolset`: the view of the catalog the stdio client gets (over HTTP each toolset has its own path)."""
    with asyncio.Runner(loop_factory=_loop_factory(spec.server.event_loop)) as runner:
        if spec.server.transport == "http" or worker is not None:
            runner.run(_serve_http(spec, load, overrides, worker))
            return
        from webmcp.transports import stdio

        protocol_out = stdio.claim_stdout()  # before any tool code is imported
        runner.run(_serve_stdio(spec, load, overrides, protocol_out, toolset))


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop halves the cost of a task and of an event-loop pass (bench/hotpath.py, docs/performance.md)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise TransportUnavailable("server.event_loop is uvloop, which is not installed: "
                                       "pip install uvloop") from None
        return None
    return uvloop.new_event_loop


@contextlib.asynccontextmanager
async def _running(
    spec: ConfigSpec, load: Callable[[], ConfigSpec], overrides: Sequence[Override], worker: WorkerLink | None = None
) -> AsyncIterator[tuple[GraphHolder, Lifecycle, Reloader]]:
    """Build the graph, install signals, announce the process in its run file; undo all on exit. A worker
    announces itself to its supervisor instead, which owns its reloads."""
    started = time.perf_counter()
    baseline = watch.digest(spec.source) if spec.server.watch and worker is None else None
    lifecycle = Lifecycle()
    lifecycle.install(asyncio.get_running_loop())
    holder = GraphHolder(await build(spec, worker.generation if worker is not None else 1))
    serve_state_of(holder)
    if worker is not None:
        reloader = Reloader(load, holder)
        lifecycle.reload = worker.reload_all  # SIGHUP sent to one worker reloads them all
        worker.attach(holder, reloader, lifecycle.stop)
        log.info("worker %d: built %d tools (generation %d) in %.0f ms", worker.index, len(holder.current.catalog),
                 holder.current.generation, (time.perf_counter() - started) * 1000)
        try:
            yield holder, lifecycle, reloader
        finally:
            try:
                await reloader.close()
            finally:
                await holder.current.close(timeout=0)
        return
    run_file = RunFile.for_process(spec.source, spec.server.pid_file)
    status: dict[str, Any] = {"config": spec.source, "generation": 1, "reloads": 0, "requested": 0, "last": None,
                              "summary": summarize(holder.current), "live": snapshot(holder),
                              "overrides": [dataclasses.asdict(o) for o in overrides]}

    def write_status() -> None:
        try:
            run_file.write_status(status)
        except OSError as exc:  # a full disk must not stop reloads
            log.error("cannot write %s: %s", run_file.status_path, exc)

    def on_report(report: ReloadReport) -> None:
        status.update(generation=holder.current.generation, reloads=status["reloads"] + 1, last=report.as_dict(),
                      summary=summarize(holder.current))
        write_status()

    def on_request(requested: int) -> None:
        status["requested"] = requested  # at once: `webmcp reload` waits for a report covering its request
        write_status()

    # A single process sends its own alerts (a supervisor sends them for its workers).
    alerts = Alerts(lambda: holder.current.spec.telemetry.alerts, lambda: holder.current.spec.server.name,
                    lambda: holder.current.spec.scaling.window)

    async def keep_status_live() -> None:
        """The figures `webmcp status` prints, refreshed every second; alerts on the targets' changes."""
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            status["live"] = snapshot(holder)
            write_status()
            alerts.observe(components(holder.current).targets())

    reloader = Reloader(load, holder, on_report, on_request)
    lifecycle.reload = reloader.request
    clearing: set[asyncio.Task[None]] = set()

    def cache_clear() -> None:
        task = asyncio.get_running_loop().create_task(serve_requests(run_file.pid_path.parent, holder))
        clearing.add(task)
        task.add_done_callback(clearing.discard)

    lifecycle.cache_clear = cache_clear
    telemetry = None
    live = asyncio.get_running_loop().create_task(keep_status_live())
    watcher = watch.start(spec.source, lifecycle.handle_hup, lifecycle.stop, baseline) if spec.server.watch else None
    try:
        run_file.create(status)
        if spec.telemetry.listen is not None:
            from webmcp.status import endpoints

            host, port = spec.telemetry.listen
            telemetry = await endpoints.listen(host, port, holder, lifecycle.stop)
            from webmcp.config.spec import HttpSpec
            from webmcp.transports.http_access import Clients
            from webmcp.transports.http_limits import ConnectionCap

            assert telemetry.server is not None  # a scraper needs one connection; 503 beyond these
            ConnectionCap(HttpSpec(max_connections=TELEMETRY_CONNECTIONS, max_connections_per_client=16),
                          Clients(())).install(telemetry.server)
            log.info("telemetry on http://%s:%d/metrics", host, port)
        log.info("built %d tools from %s (generation 1) in %.0f ms; reload with SIGHUP or `webmcp reload -c %s`",
                 len(holder.current.catalog), spec.source, (time.perf_counter() - started) * 1000, spec.source)
        for name, view in holder.current.views.items():
            ts = spec.toolsets[name]
            budget = f" of max_tools {ts.max_tools}" if ts.max_tools is not None else ""
            log.info("toolset %s (mode %s): %s%s, about %d tokens", name, ts.mode, count(len(view.catalog), "tool"),
                     budget, view.tokens)
        yield holder, lifecycle, reloader
    finally:
        live.cancel()
        await watch.cancel(watcher)
        await alerts.close()
        if telemetry is not None:
            await telemetry.cleanup()
        run_file.remove()
        try:
            await reloader.close()
        finally:
            await holder.current.close(timeout=0)


async def _serve_stdio(
    spec: ConfigSpec, load: Callable[[], ConfigSpec], overrides: Sequence[Override], protocol_out: BinaryIO,
    toolset: str | None = None,
) -> None:
    from webmcp.transports import stdio

    async with _running(spec, load, overrides) as (holder, lifecycle, _):
        log.info("serving over stdio")
        await stdio.serve(holder, sys.stdin.buffer, protocol_out, lifecycle.stop, lifecycle.force, toolset)


def session_store(spec: ConfigSpec, worker: WorkerLink | None) -> SessionStore | None:
    """Where this process finds the 2025 sessions' records (server.http.sessions); None: it holds them all."""
    sessions = spec.server.http.sessions
    if sessions.backend == "redis":
        from webmcp.transports.session_redis import RedisStore

        assert sessions.pool is not None
        return RedisStore(spec.pools[sessions.pool], spec.server.name, spec.server.http.session_idle_timeout)
    if worker is not None:
        from webmcp.server.session_link import SupervisorStore

        worker.sessions = SupervisorStore(worker.channel)
        return worker.sessions
    return None


async def _serve_http(spec: ConfigSpec, load: Callable[[], ConfigSpec], overrides: Sequence[Override],
                      worker: WorkerLink | None = None) -> None:
    from aiohttp import web

    from webmcp.server.admin import ServerAdmin
    from webmcp.status import endpoints
    from webmcp.transports.http import HttpTransport

    if worker is not None:
        await worker.connect()
    async with _running(spec, load, overrides, worker) as (holder, lifecycle, reloader):
        store = session_store(spec, worker)
        state_key = worker.state_key if worker is not None else None
        if store is not None and spec.server.request_state.secret_env is None:
            state_key = await store.signing_key() or state_key
        if worker is None:
            transport = HttpTransport(holder, spec.server, ServerAdmin(holder, reloader), state_key, store)
        else:
            from webmcp.server.worker import WorkerAdmin

            transport = HttpTransport(holder, spec.server, WorkerAdmin(worker, holder), state_key, store)
        await transport.start()
        # Streams are ended by transport.shutdown(); what is left after that gets a few seconds.
        # handler_cancellation: a client that closes its POST cancels the handler, which cancels a
        # sessionless call (nobody can receive its reply; on 2026-07-28 closing the stream is how to cancel).
        app = transport.app()
        # /metrics beside /healthz and /readyz; a worker's is the whole server's, merged by the supervisor
        endpoints.add_routes(app, worker.metrics if worker is not None else None)
        retirement = None
        if worker is not None and spec.scaling.workers is not None and spec.scaling.workers.autoscaled:
            retirement = _Retirement(worker.index, spec.server.graceful_timeout, lifecycle.stop)
            app.on_response_prepare.append(retirement.on_response_prepare)
        http = spec.server.http
        tls = None
        if http.tls is not None:
            from webmcp.transports.http_tls import Certificates

            tls = Certificates(http.tls)
            reloader.also.append(tls.reload)
        reloader.also.append(transport.auth.reload)
        # keepalive_timeout: aiohttp closes a connection that has not sent a complete request this long after
        # it opened or after its last response: the header deadline. lingering_time: how long a body left
        # unread (408, 413) is still drained so that the client sees the answer.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5,
                               handler_cancellation=True, keepalive_timeout=http.header_timeout, lingering_time=1.0)
        await runner.setup()
        assert runner.server is not None
        transport.limit_connections(runner.server)
        site: web.BaseSite
        context = tls.context if tls is not None else None
        if worker is None:
            site = web.TCPSite(runner, http.host, http.port, backlog=1024, ssl_context=context)
        else:  # the supervisor's socket, shared by every worker: the kernel hands each connection to one
            site = web.SockSite(runner, worker.listen_socket(), backlog=1024, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise TransportUnavailable(f"cannot listen on {http.host}:{http.port}: {exc.strerror or exc}") from None
        reaper = asyncio.create_task(transport.reap())
        port = runner.addresses[0][1] if runner.addresses else http.port
        if worker is None:
            log.info("serving on %s://%s:%d%s", "https" if tls else "http", http.host, port, http.path)
        else:
            if retirement is not None:
                worker.retire = lambda: retirement.start(site, runner)
            worker.ready()
        try:
            await lifecycle.stop.wait()
            # Drain first, still listening: /readyz says 503 (a load balancer stops sending), new
            # sessions get 503, and calls under way finish. Then stop listening.
            await transport.shutdown(spec.server.graceful_timeout, lifecycle.force)
            if retirement is None or not retirement.started:
                await site.stop()
        finally:
            reaper.cancel()
            await runner.cleanup()
            if worker is not None:
                await worker.close()


class _Retirement:
    """A worker scaled down by its supervisor: it stops accepting (the shared socket stays open in the
    other workers, which take every queued connection), still serves the requests that come on its open
    connections but answers each with `Connection: close` (the client's next request opens a connection
    that another worker accepts), closes the connections still open after RETIRE_GRACE once their
    request under way is answered (idle keep-alive connections: a client that has not sent anything for
    that long), then stops as on SIGTERM. No request is refused."""

    def __init__(self, index: int, timeout: float, stop: asyncio.Event) -> None:
        self.index = index
        self.timeout = timeout
        self.stop = stop
        self.started = False
        self._task: asyncio.Task[None] | None = None

    async def on_response_prepare(self, request: Any, response: Any) -> None:
        if self.started:
            response.headers["Connection"] = "close"
            response.force_close()

    def start(self, site: Any, runner: Any) -> None:
        if not self.started:
            self.started = True
            self._task = asyncio.get_running_loop().create_task(self._drain(site, runner))

    async def _drain(self, site: Any, runner: Any) -> None:
        await site.stop()
        server = runner.server
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        grace = loop.time() + min(RETIRE_GRACE, self.timeout)
        while server.connections and loop.time() < grace:  # busy clients leave on their next answer
            await asyncio.sleep(0.05)
        for connection in list(server.connections):
            connection.close()  # after the request under way, if any
        while server.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        log.info("worker %d: scaled down; %d connection(s) left after the drain", self.index,
                 len(server.connections))
        self.stop.set()
