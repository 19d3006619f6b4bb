"""The `webmcp` command. A thin shell over the library, and the only place that exits the process.

Exit codes: 0 success; 1 runtime error; 2 usage error; 3 invalid configuration; 4 configuration
valid but a component could not be built (e.g. a python tool's module does not import).
Every option can also be set as WEBMCP_<OPTION> (WEBMCP_CONFIG, WEBMCP_TRANSPORT, WEBMCP_PORT, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from webmcp import __version__
from webmcp.config.layers import Override
from webmcp.errors import ConfigError, WebmcpError

if TYPE_CHECKING:
    from webmcp.graph.graph import Unchecked


class UsageError(WebmcpError):
    exit_code = 2

CONFIG_OPTION = click.option(
    "-c", "--config", "config", default="webmcp.yaml", show_default=True, envvar="WEBMCP_CONFIG",
    type=click.Path(dir_okay=False), help="The config file.",
)
RUNNING = "\0running"  # the value of a --diff given without one

PROFILE_OPTION = click.option(
    "--profile", envvar="WEBMCP_PROFILE", help="Hardware profile: auto, none, a name or a path."
)


def _reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn WebmcpErrors into a message on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WebmcpError as exc:
            click.echo(str(exc), err=True)
            if isinstance(exc, ConfigError):
                click.echo(f"{_count(len(exc.problems), 'problem')} found", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _overrides(ctx: click.Context, mapping: dict[str, tuple[str, ...]]) -> list[Override]:
    """CLI options and WEBMCP_* variables that were actually given, as config overrides."""
    out = []
    for param, path in mapping.items():
        value = ctx.params.get(param)
        if value is None:
            continue
        source = ctx.get_parameter_source(param)
        if source is click.core.ParameterSource.ENVIRONMENT:
            label = f"env WEBMCP_{param.upper()}"
        elif source is click.core.ParameterSource.COMMANDLINE:
            label = f"--{param.replace('_', '-')}"
        else:
            continue
        out.append(Override(path, value, label))
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="webmcp")
def main() -> None:
    """webmcp: a declarative MCP server. One YAML file declares the tools; webmcp serves them."""


@main.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--connect", is_flag=True,
              help="Also start upstream MCP servers (their tools are checked against them) and reach required "
                   "Redis pools, as serve does. Without it, nothing is reached over the network.")
@click.option("--diff", "diff_against", is_flag=False, flag_value=RUNNING, default=None, metavar="[OTHER.yaml]",
              help="Also print what would change: against the running server of this config (no value), "
                   "or going from OTHER.yaml to this file. Connects, like --connect.")
@click.pass_context
@_reports_errors
def validate(ctx: click.Context, config: str, profile: str | None, fmt: str, connect: bool,
             diff_against: str | None) -> None:
    """Check a config file: schema, references, and that every tool builds, without reaching upstream
    servers or Redis unless --connect. Prints every problem."""
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load
    from webmcp.server.diff import compare, summarize

    # A diff compares catalogs, and an mcp tool's entry comes from its upstream: built without it, every
    # such tool would show as removed (against a running server) or its changes would go unseen.
    connect = connect or diff_against is not None

    async def summary_of(path: str, started_with: list[Override]) -> tuple[int, int, dict[str, Any], Unchecked]:
        overrides = [*started_with, *_overrides(ctx, {"profile": ("profile",)})]
        with contextlib.redirect_stdout(sys.stderr):  # a print in a tool module must not corrupt our output
            graph = await build(load(path, overrides=overrides, trust_memo=False), connect=connect)
        try:
            return len(graph.catalog), len(graph.spec.tools), summarize(graph), graph.unchecked
        finally:
            await graph.close()

    try:
        server = _running_status(config, _pid_file(config, ctx)) if diff_against == RUNNING else None
        # Like with like: the file as the running server reads it, with the flags and WEBMCP_* variables it
        # was started with, so a `serve --port` is no change of the file's.
        started_with = [Override(tuple(o["path"]), o["value"], o["label"]) for o in (server or {}).get("overrides", [])]
        listed, declared, summary, unchecked = asyncio.run(summary_of(config, started_with))
        before = None
        if diff_against == RUNNING:
            if server is None:
                raise UsageError(f"no running webmcp server for {config} to compare with; pass --diff OTHER.yaml")
            before = server["summary"]
        elif diff_against is not None:
            from webmcp.executor.user_code import forget_user_modules

            forget_user_modules(Path(config).resolve().parent)  # its modules may share names with OTHER's
            before = asyncio.run(summary_of(diff_against, []))[2]
    except ConfigError as exc:
        if fmt == "json":
            click.echo(orjson.dumps({"valid": False, "problems": [p.as_dict() for p in exc.problems]},
                                    option=orjson.OPT_INDENT_2).decode())
        else:
            for p in exc.problems:
                click.echo(p.render())
            click.echo(f"{_count(len(exc.problems), 'problem')} found", err=True)
        sys.exit(exc.exit_code)
    changes = compare(before, summary) if before is not None else None
    if fmt == "json":
        report: dict[str, Any] = {
            "valid": True, "listed_tools": listed, "tools": declared, "connected": connect,
            "unchecked": {"tools": [p.as_dict() for p in unchecked.tools],
                          "pools": [p.as_dict() for p in unchecked.pools]},
        }
        if changes is not None:
            report["diff"] = changes.as_dict()
        click.echo(orjson.dumps(report).decode())
        return
    click.echo(f"{config}: ok ({listed} tools listed, {declared} declared)")
    for line in _unchecked_lines(unchecked):
        click.echo(line)
    if changes is not None:
        against = "the running server" if diff_against == RUNNING else diff_against
        click.echo(f"changes from {against} to {config}:")
        for line in changes.lines():
            click.echo(f"  {line}")


def _unchecked_lines(unchecked: Unchecked) -> list[str]:
    """What `validate` without --connect did not check: a count, then each entry where it is written."""
    if not unchecked:
        return []
    parts = []
    tools = len({p.path for p in unchecked.tools})  # a split to another upstream is a second note on its tool
    if tools:
        against = "its upstream" if tools == 1 else "their upstreams"
        parts.append(f"{_count(tools, 'mcp tool')} not checked against {against}")
    if unchecked.pools:
        parts.append(f"{_count(len(unchecked.pools), 'required Redis pool')} not reached")
    notes = sorted((*unchecked.tools, *unchecked.pools), key=lambda p: (p.source, p.line or 0, p.column or 0, p.path))
    return [f"not connected: {', '.join(parts)}; webmcp validate --connect checks them:",
            *(f"  {p.render()}" for p in notes)]


def _pid_file(config: str, ctx: click.Context) -> str | None:
    from webmcp.kinds.imports import load

    return load(config, overrides=_overrides(ctx, {"profile": ("profile",)})).server.pid_file


def _running_status(config: str, pid_file: str | None) -> dict[str, Any] | None:
    """The run file status of a running server of this config: what it serves ("summary") and the flags and
    WEBMCP_* variables it was started with ("overrides"); None when no server of it runs."""
    from webmcp.server.runfiles import running

    for _, run in running(config, pid_file):
        status = run.read_status() or {}
        if isinstance(status.get("summary"), dict):
            return status
    return None


@main.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--transport", envvar="WEBMCP_TRANSPORT", type=click.Choice(["stdio", "http"]),
              help="Default: server.transport, else stdio.")
@click.option("--host", envvar="WEBMCP_HOST", help="HTTP bind address. Default: server.http.host, else 127.0.0.1.")
@click.option("--port", envvar="WEBMCP_PORT", type=click.IntRange(0, 65535),
              help="HTTP port. Default: server.http.port, else 8765.")
@click.option("--log-level", envvar="WEBMCP_LOG_LEVEL", type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
@_reports_errors
def serve(ctx: click.Context, config: str, **_: Any) -> None:
    """Serve the tools of a config file over MCP (stdio by default)."""
    from webmcp.kinds.imports import load
    from webmcp.server.serve import run

    overrides = _overrides(ctx, {
        "profile": ("profile",), "transport": ("server", "transport"), "host": ("server", "http", "host"),
        "port": ("server", "http", "port"), "log_level": ("server", "log_level"),
    })
    _setup_logging(ctx.params.get("log_level") or "info")
    spec = load(config, overrides=overrides)
    _setup_logging(spec.server.log_level)
    run(spec, lambda: load(config, overrides=overrides), overrides)


@main.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the tools/list entries as JSON.")
@click.pass_context
@_reports_errors
def tools(ctx: click.Context, config: str, profile: str | None, as_json: bool) -> None:
    """Print the tool catalog a client will see: each tool, its operations, the count."""
    from webmcp.graph.build import build
    from webmcp.kinds.imports import load

    async def catalog() -> list[dict[str, Any]]:
        with contextlib.redirect_stdout(sys.stderr):  # a print in a tool module must not corrupt --json
            graph = await build(load(config, overrides=_overrides(ctx, {"profile": ("profile",)})))
        try:
            return list(graph.catalog)
        finally:
            await graph.close()

    entries = asyncio.run(catalog())
    if as_json:
        click.echo(orjson.dumps({"tools": entries, "count": len(entries)}, option=orjson.OPT_INDENT_2).decode())
        return
    for entry in entries:
        summary = entry.get("description", "").strip().split("\n")[0]
        click.echo(f"{entry['name']}" + (f"  {summary}" if summary else ""))
        ops = entry["inputSchema"].get("properties", {}).get("operation", {}).get("enum")
        for op in ops or []:
            click.echo(f"    operation: {op}")
    click.echo(_count(len(entries), "tool"))


@main.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each server's outcome.")
@click.pass_context
@_reports_errors
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
            graph = await build(load(config, overrides=_overrides(ctx, {"profile": ("profile",)})))
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


@main.group()
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
@_reports_errors
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
    spec = load(config, overrides=_overrides(ctx, {"profile": ("profile",)}))
    request = ClearRequest(tags, keys, everything, name)
    try:
        for cache_name, acks in asyncio.run(clear_redis(spec, request)):
            click.echo(f"cache {cache_name}: invalidated in Redis; {_count(acks, 'instance')} acknowledged")
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
            click.echo(f"pid {pid}: dropped {_count(answer['dropped'], 'entry').replace('entrys', 'entries')} "
                       f"from {', '.join(answer['caches']) or 'no cache'}")
    sys.exit(1 if failed else 0)


@main.command()
@CONFIG_OPTION
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print each server's snapshot as JSON.")
@click.pass_context
@_reports_errors
def status(ctx: click.Context, config: str, profile: str | None, as_json: bool) -> None:
    """Print live figures of every running server of a config file: generation, uptime, calls in
    flight and queued, calls and errors, latency, memory, targets (refreshed every second)."""
    from webmcp.server.runfiles import running
    from webmcp.status.snapshot import render

    servers = running(config, _pid_file(config, ctx))
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


@main.command()
def schema() -> None:
    """Print the config file's JSON Schema (one bundled document, for editors)."""
    from webmcp.config.schemas import bundle

    click.echo(orjson.dumps(bundle(), option=orjson.OPT_INDENT_2).decode())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger().setLevel(level.upper())
