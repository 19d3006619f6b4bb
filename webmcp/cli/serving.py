"""The commands of running servers: `serve`, `reload`, `cache clear`, `status`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import click
import orjson

from webmcp.cli.options import (
    CONFIG_OPTION,
    PROFILE_OPTION,
    UsageError,
    check_toolset,
    given_overrides,
    pid_file,
    reports_errors,
    setup_logging,
)
from webmcp.errors import count


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--transport", envvar="WEBMCP_TRANSPORT", type=click.Choice(["stdio", "http"]),
              help="Default: server.transport, else stdio.")
@click.option("--host", envvar="WEBMCP_HOST", help="HTTP bind address. Default: server.http.host, else 127.0.0.1.")
@click.option("--port", envvar="WEBMCP_PORT", type=click.IntRange(0, 65535),
              help="HTTP port. Default: server.http.port, else 8765.")
@click.option("--log-level", envvar="WEBMCP_LOG_LEVEL", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--workers", envvar="WEBMCP_WORKERS", type=click.IntRange(min=1),
              help="Worker processes on one socket, under a supervisor (HTTP only). Default: scaling.workers, "
                   "else one process.")
@click.option("--toolset", envvar="WEBMCP_TOOLSET", metavar="NAME",
              help="Serve this toolset's view of the catalog (stdio; over HTTP each toolset is served at "
                   "<server.http.path>/NAME). Default: every listed tool.")
@click.option("--worker", hidden=True, help="Set by the supervisor for its workers: INDEX:LISTEN_FD:CHANNEL_FD.")
@click.pass_context
@reports_errors
def serve(ctx: click.Context, config: str, worker: str | None, toolset: str | None, **_: Any) -> None:
    """Serve the tools of a config file over MCP (stdio by default)."""
    from webmcp.kinds.imports import load
    from webmcp.server.serve import run

    mapping = {
        "profile": ("profile",), "transport": ("server", "transport"), "host": ("server", "http", "host"),
        "port": ("server", "http", "port"), "log_level": ("server", "log_level"), "workers": ("scaling", "workers"),
    }
    overrides = given_overrides(ctx, mapping)
    setup_logging(ctx.params.get("log_level") or "info")
    if worker is not None:  # one of a supervisor's workers
        from webmcp.server.worker import WorkerLink

        link = WorkerLink.from_option(worker)
        link.hello()
        spec = load(config, overrides=overrides, text=link.text)
        setup_logging(spec.server.log_level)
        run(spec, lambda: load(config, overrides=overrides, text=link.text), overrides, worker=link)
        return
    flag = next((o for o in overrides if o.path == ("scaling", "workers")), None)
    if flag is not None:  # stdio with --workers is a usage error, not a problem of the file
        transport = load(config, overrides=[o for o in overrides if o is not flag]).server.transport
        if transport != "http":
            raise UsageError(f"{flag.label}: worker processes serve the http transport only (stdio has one client); "
                             "add --transport http")
    spec = load(config, overrides=overrides)
    setup_logging(spec.server.log_level)
    if toolset is not None:
        check_toolset(spec, toolset)
        if spec.server.transport != "stdio":
            raise UsageError(f"--toolset serves one stdio client; over HTTP the toolset is served at "
                             f"{spec.server.http.path}/{toolset}")
    if spec.scaling.workers is None:
        run(spec, lambda: load(config, overrides=overrides), overrides, toolset=toolset)
        return
    from webmcp.server.supervisor import self_command, supervise

    given = [f"--{name.replace('_', '-')}={ctx.params[name]}" for name in mapping if ctx.params.get(name) is not None
             and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    supervise(spec, lambda text: load(config, overrides=overrides, text=text),
              [*self_command(), "serve", "-c", config, *given], overrides)


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each server's outcome.")
@click.pass_context
@reports_errors
def reload(ctx: click.Context, config: str, profile: str | None, timeout: float) -> None:
    """Reload running servers of a config file: check the file first (nothing is signalled when it
    has problems), then send SIGHUP to every server of that config and report each outcome."""
    import os
    import signal
    import time

    from webmcp.graph.build import build
    from webmcp.kinds.imports import load
    from webmcp.server.runfiles import running

    async def check() -> str | None:
        with contextlib.redirect_stdout(sys.stderr):
            graph = await build(load(config, overrides=given_overrides(ctx, {"profile": ("profile",)})))
        try:
            return graph.spec.server.pid_file
        finally:
            await graph.close()

    pid_file = asyncio.run(check())  # a ConfigError ends here, with the problems, before any signal
    servers = running(config, pid_file)
    if not servers:
        click.echo(f"no running webmcp server for {config}", err=True)
        sys.exit(1)
    # A report answers our signal when it covers a request made after the count we read now.
    before = {pid: (run.read_status() or {}).get("requested", 0) for pid, run in servers}
    failed = 0
    signalled = []
    for pid, run in servers:
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError as exc:  # gone since we looked, or not ours to signal
            click.echo(f"pid {pid}: cannot signal it: {exc.strerror or exc}")
            failed += 1
            continue
        signalled.append((pid, run))
    for pid, run in signalled:
        deadline = time.monotonic() + timeout
        def answered(status: dict[str, Any], pid: int = pid) -> bool:
            last = status.get("last") or {}
            return bool(int(last.get("covers", 0)) > before[pid])

        status = run.read_status() or {}
        while not answered(status) and time.monotonic() < deadline:
            time.sleep(0.05)
            status = run.read_status() or {}
        last = status.get("last") if answered(status) else None
        if last is None:
            click.echo(f"pid {pid}: no answer within {timeout:g}s")
            failed += 1
            continue
        click.echo(f"pid {pid}: {last['message']}")
        failed += not last["ok"]
    sys.exit(1 if failed else 0)


@click.group()
def cache() -> None:
    """Inspect and invalidate caches."""


@cache.command("clear")
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--tag", "tags", multiple=True, help="Drop entries with this tag (repeatable).")
@click.option("--key", "keys", multiple=True, help='Drop this entry: `<tool> <canonical JSON of its key arguments>` '
              '(repeatable), e.g. \'search {"query":"x"}\'.')
@click.option("--all", "everything", is_flag=True, help="Drop every entry.")
@click.option("--cache", "name", help="Only this cache (a caches: entry, or a tool's name for its inline cache).")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each server's answer.")
@click.pass_context
@reports_errors
def cache_clear(ctx: click.Context, config: str, profile: str | None, tags: tuple[str, ...], keys: tuple[str, ...],
                everything: bool, name: str | None, timeout: float) -> None:
    """Invalidate cached entries by tag, key or all. Redis-backed caches are invalidated in Redis (every
    instance sharing it drops its copies before this returns); memory caches in each running server of
    this config on this machine (signalled with SIGUSR1, stdio servers included)."""
    from webmcp.kinds.imports import load
    from webmcp.server.cache_clear import ClearRequest, clear_redis
    from webmcp.server.cache_requests import ask_server
    from webmcp.server.runfiles import running

    if not (tags or keys or everything):
        raise UsageError("say what to clear: --tag, --key or --all")
    spec = load(config, overrides=given_overrides(ctx, {"profile": ("profile",)}))
    request = ClearRequest(tags, keys, everything, name)
    try:
        for cache_name, acks in asyncio.run(clear_redis(spec, request)):
            click.echo(f"cache {cache_name}: invalidated in Redis; {count(acks, 'instance')} acknowledged")
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    except ConnectionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    memory = [n for n, c in spec.caches.items() if c.backend == "memory" and not c.is_off]
    memory += [t.name for t in spec.tools.values() if t.cache and t.cache.inline and t.cache.inline.backend == "memory"]
    if name is not None and name not in memory:
        return
    if not memory:
        return
    failed = 0
    servers = running(config, spec.server.pid_file)
    if not servers:
        click.echo(f"no running webmcp server for {config}: no memory cache to clear")
    for pid, run in servers:
        answer = ask_server(run.pid_path.parent, pid, request, timeout)
        if answer is None:
            click.echo(f"pid {pid}: no answer within {timeout:g}s")
            failed += 1
        elif not answer.get("ok"):
            click.echo(f"pid {pid}: {answer.get('error')}")
            failed += 1
        else:
            click.echo(f"pid {pid}: dropped {count(answer['dropped'], 'entry').replace('entrys', 'entries')} "
                       f"from {', '.join(answer['caches']) or 'no cache'}")
    sys.exit(1 if failed else 0)


@click.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print each server's snapshot as JSON.")
@click.pass_context
@reports_errors
def status(ctx: click.Context, config: str, profile: str | None, as_json: bool) -> None:
    """Print live figures of every running server of a config file: generation, uptime, calls in
    flight and queued, calls and errors, latency, memory, targets (refreshed every second)."""
    from webmcp.server.runfiles import running
    from webmcp.status.snapshot import render

    servers = running(config, pid_file(config, ctx))
    if not servers:
        click.echo(f"no running webmcp server for {config}", err=True)
        sys.exit(1)
    snapshots = [(pid, run.read_status() or {}) for pid, run in servers]
    if as_json:
        out = [{"pid": pid, "config": st.get("config"), **(st.get("live") or {})} for pid, st in snapshots]
        click.echo(orjson.dumps({"servers": out}, option=orjson.OPT_INDENT_2).decode())
        return
    for pid, st in snapshots:
        for line in render(st, pid):
            click.echo(line)
